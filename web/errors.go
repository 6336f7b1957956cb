package web

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by New. Request errors are answered to the client (JSON on
// /api/, a message on the page) and never returned to the caller.
var (
	// ErrInvalidConfig is wrapped by the error New returns for a bad Config
	// field; the message names the field.
	ErrInvalidConfig = errors.New("web: invalid configuration")
)

// configError reports a bad Config field by name.
func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// apiError is a refusal answered to a client: the HTTP status and the text
// for {"ok":false,"error":...} or the page's flash message. Text is written
// for users: it has no package prefix and never quotes a password or a token.
type apiError struct {
	status int
	text   string
	retry  time.Duration // Retry-After, for 429 and 503
}

func (e *apiError) Error() string { return "web: " + e.text }

// Refusals shared by several routes.
var (
	errNotLoggedIn  = &apiError{status: 401, text: "not logged in"}
	errEmptyBody    = &apiError{status: 400, text: "request body is empty"}
	errTrailingData = &apiError{status: 400, text: "malformed JSON: data after the object"}
	errCrossOrigin  = &apiError{status: 403, text: "cross-origin request refused"}
	errNotFound     = &apiError{status: 404, text: "no such endpoint"}
	errNoStats      = &apiError{status: 404, text: "server statistics are not available"}
	errStatsFailed  = &apiError{status: 503, text: "server statistics are unavailable right now"}
	errTooManyViews = &apiError{status: 503, text: "too many live views open, try again later", retry: 5 * time.Second}
	errClosed       = &apiError{status: 503, text: "server is shutting down"}
	errInternal     = &apiError{status: 500, text: "internal error"}
)
