package chat

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotLoggedIn refuses say before login.
	ErrNotLoggedIn = errors.New("chat: not logged in")
	// ErrEmptyText refuses an empty message.
	ErrEmptyText = errors.New("chat: empty message")
	// ErrTextTooLong refuses a message over Config.MaxText bytes.
	ErrTextTooLong = errors.New("chat: message too long")
	// ErrBadText refuses text that is not valid UTF-8 or holds control characters.
	ErrBadText = errors.New("chat: message is not printable UTF-8 text")
	// ErrThrottled is matched (errors.Is) by every *RateLimitError: an
	// action refused by one of the App's rate limits.
	ErrThrottled = errors.New("chat: rate limited, try again later")
	// ErrSessionEnded refuses say on a packet connection whose login
	// session was logged out or expired; the connection must log in again.
	ErrSessionEnded = errors.New("chat: session ended, log in again")
	// ErrBadToken refuses a login with a token (code 6 {"token": ...})
	// that is not a live session token, nor a JWT that verifies.
	ErrBadToken = errors.New("chat: invalid or expired token")
	// ErrBadData refuses a publication or direct message whose data is not
	// JSON (reason "bad_data").
	ErrBadData = errors.New("chat: data is not valid JSON")
)

// RateLimitError refuses an action over one of the App's rate limits (see
// Config). It matches ErrThrottled.
type RateLimitError struct {
	// Limit names the limit: "register per address", "failed logins per
	// address", "failed logins per user", "say per user", "say per
	// address" or "fan-out".
	Limit string
	// RetryAfter is how long until the action would be allowed again.
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("chat: rate limited (%s), retry in %s", e.Limit, e.RetryAfter.Round(time.Second).String())
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrThrottled }
