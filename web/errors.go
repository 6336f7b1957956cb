package web

import (
	"errors"
	"fmt"
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
}

func (e *apiError) Error() string { return "web: " + e.text }

// Refusals shared by several routes.
var (
	errNotLoggedIn  = &apiError{401, "not logged in"}
	errEmptyBody    = &apiError{400, "request body is empty"}
	errTrailingData = &apiError{400, "malformed JSON: data after the object"}
	errCrossOrigin  = &apiError{403, "cross-origin request refused"}
	errNotFound     = &apiError{404, "no such endpoint"}
	errNoStats      = &apiError{404, "server statistics are not available"}
	errStatsFailed  = &apiError{503, "server statistics are unavailable right now"}
	errTooManyViews = &apiError{503, "too many live views open, try again later"}
	errClosed       = &apiError{503, "server is shutting down"}
	errInternal     = &apiError{500, "internal error"}
)
