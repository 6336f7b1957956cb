package accounts

import (
	"strings"
	"time"
)

// Limits on usernames and passwords (SPEC §2).
const (
	// MinUsernameLen and MaxUsernameLen bound a username's length. Usernames
	// are ASCII, so characters and bytes are the same thing.
	MinUsernameLen = 3
	MaxUsernameLen = 32

	// MinPasswordLen and MaxPasswordLen bound a password's length in bytes
	// (not characters: "é" counts 2). 72 is bcrypt's limit: it ignores, or
	// in golang.org/x/crypto refuses, anything longer, so a longer password
	// would be silently weaker than the user believes.
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

const (
	fieldUsername = "username"
	fieldPassword = "password"
)

// User is a registered account. Users are compared and looked up by name
// case-insensitively; Username keeps the spelling given at registration.
type User struct {
	// ID is assigned by the store, starting at 1, and never reused.
	ID int64
	// Username as registered, e.g. "Alice".
	Username string
	// CreatedAt is the registration time, in UTC, truncated to microseconds
	// (the precision both stores keep).
	CreatedAt time.Time
}

// Session is a login session as stored. The token itself is never stored:
// TokenHash is SHA-256 of the token string handed to the client, so a leaked
// database does not let anyone log in as its users.
type Session struct {
	// TokenHash is sha256.Sum256([]byte(token)), 32 bytes.
	TokenHash []byte
	// UserID is the ID of the logged-in user.
	UserID int64
	// CreatedAt is the login time; ExpiresAt is when the session stops
	// being accepted. Both are UTC, truncated to microseconds.
	CreatedAt, ExpiresAt time.Time
}

// ValidateUsername reports whether name is an acceptable username: 3 to 32
// characters, each an ASCII letter, a digit, '_', '.' or '-'. The error, if
// any, is a *ValidationError matching ErrInvalidUsername.
func ValidateUsername(name string) error {
	if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
		return &ValidationError{Field: fieldUsername, Reason: "must be 3 to 32 characters"}
	}
	for i := 0; i < len(name); i++ {
		if !usernameByte(name[i]) {
			return &ValidationError{Field: fieldUsername,
				Reason: "may contain only letters A-Z and a-z, digits, '_', '.' and '-'"}
		}
	}
	return nil
}

// usernameByte reports whether c may appear in a username. Checking bytes is
// enough: every allowed character is ASCII, and every byte of a multi-byte
// UTF-8 sequence is >= 0x80, so any non-ASCII character is rejected.
func usernameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// ValidatePassword reports whether password is acceptable: 8 to 72 bytes.
// Any bytes are allowed, including spaces and non-ASCII characters (counted
// in UTF-8 bytes). The error, if any, is a *ValidationError matching
// ErrInvalidPassword; it never contains the password.
func ValidatePassword(password string) error {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return &ValidationError{Field: fieldPassword, Reason: "must be 8 to 72 bytes"}
	}
	return nil
}

// usernameKey is the canonical form under which a username is unique and
// looked up. Both stores compute it here, in Go, rather than with SQL's
// lower() or COLLATE NOCASE, so that they agree on every input, including
// non-ASCII names a caller may pass to a Store directly.
func usernameKey(name string) string {
	return strings.ToLower(name)
}
