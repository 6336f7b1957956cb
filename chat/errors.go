package chat

import "errors"

var (
	// ErrNotLoggedIn refuses say before login.
	ErrNotLoggedIn = errors.New("chat: not logged in")
	// ErrEmptyText refuses an empty message.
	ErrEmptyText = errors.New("chat: empty message")
	// ErrTextTooLong refuses a message over Config.MaxText bytes.
	ErrTextTooLong = errors.New("chat: message too long")
	// ErrBadText refuses text that is not valid UTF-8 or holds control characters.
	ErrBadText = errors.New("chat: message is not printable UTF-8 text")
	// ErrThrottled refuses a login attempt after too many failures.
	ErrThrottled = errors.New("chat: too many failed login attempts, try again later")
)
