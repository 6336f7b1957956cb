package accounts

import (
	"errors"
	"fmt"
)

// Errors returned by Service and Store methods. Compare with errors.Is: most
// are wrapped with detail. No error returned by this package contains a
// password or a session token, so every one of them is safe to log and to send
// to a client.
var (
	// ErrInvalidUsername is matched (errors.Is) by a *ValidationError for
	// the "username" field.
	ErrInvalidUsername = errors.New("accounts: invalid username")

	// ErrInvalidPassword is matched (errors.Is) by a *ValidationError for
	// the "password" field.
	ErrInvalidPassword = errors.New("accounts: invalid password")

	// ErrUsernameTaken is returned by Register and Store.CreateUser when a
	// user with the same name, compared case-insensitively, exists.
	ErrUsernameTaken = errors.New("accounts: username already taken")

	// ErrInvalidCredentials is the only error Login returns for a wrong
	// password, an unknown user or malformed input, so that a client cannot
	// tell which of them it was.
	ErrInvalidCredentials = errors.New("accounts: invalid username or password")

	// ErrInvalidToken is returned by Authenticate for a token that is
	// malformed, unknown, expired or whose user no longer exists, and by
	// Logout for a malformed one.
	ErrInvalidToken = errors.New("accounts: invalid or expired session token")

	// ErrBusy is returned by Login and Register when no bcrypt slot freed
	// within Config.LoginWait or RegisterWait: the server is overloaded
	// with password hashing; try again later.
	ErrBusy = errors.New("accounts: too busy, try again later")

	// ErrNotFound is returned by Store lookups that match no row, and by
	// Store.CreateSession for a user ID that does not exist.
	ErrNotFound = errors.New("accounts: not found")

	// ErrClosed is returned by Store methods called after Close.
	ErrClosed = errors.New("accounts: store closed")

	// ErrUnsupportedURL is returned by Open for a URL whose scheme is not
	// sqlite, postgres or postgresql, or which cannot be parsed.
	ErrUnsupportedURL = errors.New("accounts: unsupported database URL")

	// ErrSchemaTooNew is returned by Open when the database was migrated by
	// a newer wharf than this one: running old code against a newer schema
	// could corrupt it, so the store refuses to open.
	ErrSchemaTooNew = errors.New("accounts: database schema is newer than this program")

	// ErrInvalidConfig is wrapped by the errors NewService and Open return
	// for a bad Config or StoreOptions field; the message names the field.
	ErrInvalidConfig = errors.New("accounts: invalid configuration")
)

// ValidationError reports why a username or password was rejected by
// ValidateUsername, ValidatePassword or Register. It never quotes the
// rejected value: a user who types a password into the username box must not
// find it in a log.
type ValidationError struct {
	// Field is "username" or "password".
	Field string
	// Reason is a short human-readable explanation, suitable for showing to
	// the user, e.g. "must be 3 to 32 characters".
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "accounts: invalid " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidUsername) and errors.Is(err,
// ErrInvalidPassword) true for validation errors of the matching field.
func (e *ValidationError) Is(target error) bool {
	switch target {
	case ErrInvalidUsername:
		return e.Field == fieldUsername
	case ErrInvalidPassword:
		return e.Field == fieldPassword
	}
	return false
}

// configError reports a bad Config or StoreOptions field by name.
func configError(field string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}
