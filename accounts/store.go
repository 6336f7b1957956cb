package accounts

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Store persists users and sessions. The two implementations, returned by
// Open, keep their data in SQLite (the default) or PostgreSQL.
//
// All methods are safe for concurrent use by any number of goroutines, and
// block until the database answers or ctx is done. Byte slices passed in are
// not retained after the call returns; byte slices returned belong to the
// caller.
//
// Usernames are unique case-insensitively: "Alice" and "alice" are the same
// user. The name is stored as first given and returned in that spelling. The
// Store does not validate names or hashes; the Service does.
type Store interface {
	// CreateUser adds a user and returns it with its new ID and CreatedAt
	// (now, in UTC, truncated to microseconds). It returns ErrUsernameTaken
	// if a user of the same name in any letter case exists, including one
	// created concurrently: the database's unique index decides.
	CreateUser(ctx context.Context, username string, passwordHash []byte, now time.Time) (User, error)

	// UserByName returns the user whose name equals username ignoring
	// letter case, and its password hash, or ErrNotFound.
	UserByName(ctx context.Context, username string) (User, []byte, error)

	// UserByID returns the user with that ID, or ErrNotFound.
	UserByID(ctx context.Context, id int64) (User, error)

	// CreateSession stores s. It returns ErrNotFound if s.UserID names no
	// user. Its times are truncated to microseconds.
	CreateSession(ctx context.Context, s Session) error

	// SessionByTokenHash returns the session stored under tokenHash, expired
	// or not, or ErrNotFound. Checking expiry is the caller's job, because
	// only the caller knows what time it is (Config.Clock).
	SessionByTokenHash(ctx context.Context, tokenHash []byte) (Session, error)

	// DeleteSession removes the session stored under tokenHash. Removing a
	// session that does not exist is not an error, so logging out twice is
	// harmless.
	DeleteSession(ctx context.Context, tokenHash []byte) error

	// DeleteExpiredSessions removes every session whose ExpiresAt is not
	// after now and returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int64, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Close closes the store's connections. Calls in progress finish
	// first; later calls return ErrClosed. Close is idempotent.
	Close() error
}

// StoreOptions tunes the connection pool of a Store. The zero value gives
// the documented defaults; negative values are rejected.
type StoreOptions struct {
	// MaxOpenConns bounds the connections in use at once; callers beyond it
	// wait for a free one (respecting their ctx). For SQLite it bounds the
	// read pool: writes always go through one dedicated connection, because
	// SQLite admits a single writer at a time and queueing writers in Go is
	// cheaper and fairer than letting them spin on the busy handler.
	// Default max(4, GOMAXPROCS).
	MaxOpenConns int

	// MaxIdleConns bounds the connections kept open while idle. Default
	// MaxOpenConns.
	MaxIdleConns int

	// ConnMaxLifetime closes a connection once it is this old, when it is
	// next returned to the pool, so that a long-running server follows
	// database restarts, failovers and credential rotations. Default 1h.
	ConnMaxLifetime time.Duration

	// BusyTimeout is how long SQLite waits for another process (another
	// wharfd worker sharing the file) to release a lock before failing
	// with SQLITE_BUSY. Ignored for PostgreSQL. Default 5s.
	BusyTimeout time.Duration
}

// Defaults for StoreOptions.
const (
	DefaultConnMaxLifetime = time.Hour
	DefaultBusyTimeout     = 5 * time.Second
)

// withDefaults validates o and fills in its zero fields.
func (o StoreOptions) withDefaults() (StoreOptions, error) {
	switch {
	case o.MaxOpenConns < 0:
		return o, configError("StoreOptions.MaxOpenConns", "must not be negative, got %d", o.MaxOpenConns)
	case o.MaxIdleConns < 0:
		return o, configError("StoreOptions.MaxIdleConns", "must not be negative, got %d", o.MaxIdleConns)
	case o.ConnMaxLifetime < 0:
		return o, configError("StoreOptions.ConnMaxLifetime", "must not be negative, got %v", o.ConnMaxLifetime)
	case o.BusyTimeout < 0:
		return o, configError("StoreOptions.BusyTimeout", "must not be negative, got %v", o.BusyTimeout)
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = max(4, runtime.GOMAXPROCS(0))
	}
	if o.MaxIdleConns == 0 || o.MaxIdleConns > o.MaxOpenConns {
		o.MaxIdleConns = o.MaxOpenConns
	}
	if o.ConnMaxLifetime == 0 {
		o.ConnMaxLifetime = DefaultConnMaxLifetime
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	return o, nil
}

// Open opens the store named by rawURL, creating and migrating its schema
// if needed, and checks that the database answers. ctx bounds the opening
// only, not the store's life.
//
// Supported URLs:
//
//   - "sqlite://PATH": a SQLite file. PATH is relative to the working
//     directory ("sqlite://data/wharf.db") or absolute
//     ("sqlite:///var/lib/wharf/wharf.db"). Missing directories are
//     created (0750) and a new file is created readable by its owner only
//     (0600), since it holds password hashes. The database runs in WAL mode
//     with foreign keys on and a busy timeout. Query parameters, if any, are
//     passed to the modernc.org/sqlite driver for every connection, after
//     wharf's own (e.g. "?_pragma=synchronous(NORMAL)").
//   - "sqlite://:memory:": a private in-memory database on one connection,
//     gone when the store is closed. For tests and examples.
//   - "postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=..." or
//     "postgresql://...": PostgreSQL, in any form pgx accepts, with a pool
//     of pgx connections.
//
// Errors never contain the password; pass rawURL through RedactURL before
// logging it yourself.
func Open(ctx context.Context, rawURL string, opts StoreOptions) (Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: %s (want sqlite://PATH or postgres://...)", ErrUnsupportedURL, RedactURL(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return openSQLite(ctx, rawURL[len(scheme)+len("://"):], opts)
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL, opts)
	}
	return nil, fmt.Errorf("%w: scheme %q (want sqlite or postgres)", ErrUnsupportedURL, scheme)
}

// redactedPassword replaces passwords in RedactURL's output; it is what
// net/url's URL.Redacted uses.
const redactedPassword = "xxxxx"

// unparseableURL is what RedactURL returns for a string it cannot parse.
const unparseableURL = "<unparseable database URL>"

// passwordParams are the query parameters in which pgx accepts a secret.
var passwordParams = []string{"password", "sslpassword"}

// RedactURL returns rawURL with any password replaced by "xxxxx", for logs
// and error messages: the password in the user-info part and the values of
// the "password" and "sslpassword" query parameters. "sqlite://" URLs are
// returned unchanged. A string that does not parse as a URL with a scheme is
// returned as a fixed placeholder, since it cannot be known where a password
// in it would be.
func RedactURL(rawURL string) string {
	if len(rawURL) >= len("sqlite://") && strings.EqualFold(rawURL[:len("sqlite://")], "sqlite://") {
		// A file path holds no password, and "sqlite://:memory:" is not
		// a URL net/url accepts.
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		// Not a URL whose password we can find: maybe a keyword/value
		// string ("host=db password=secret"), so print none of it.
		return unparseableURL
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redactedPassword)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			// A query that does not parse could hide a password
			// anywhere in it.
			u.RawQuery = "xxxxx"
		} else {
			changed := false
			for k, vs := range q {
				for _, p := range passwordParams {
					if strings.EqualFold(k, p) {
						for i := range vs {
							vs[i] = redactedPassword
						}
						changed = true
					}
				}
			}
			if changed {
				u.RawQuery = q.Encode()
			}
		}
	}
	return u.String()
}

// migration is one step of a store's schema history. Versions start at 1 and
// increase by one; a released migration is never edited, only followed by a
// new one, because databases already at its version will not run it again.
type migration struct {
	version int
	stmts   []string
}

// micros converts t to Unix microseconds, the precision both stores keep.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts Unix microseconds to a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// storeTime is t as a store keeps it: UTC, truncated to microseconds.
func storeTime(t time.Time) time.Time { return fromMicros(micros(t)) }
