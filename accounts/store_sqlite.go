package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteMigrations is the SQLite schema history; see migration.
//
// Times are INTEGER Unix microseconds: SQLite has no time type, integers
// compare and index correctly, and microseconds match PostgreSQL's
// timestamptz precision so both stores return the same values.
// username_key (usernameKey of the name) carries the case-insensitive
// uniqueness. sessions is WITHOUT ROWID because its primary key is the only
// way it is looked up.
var sqliteMigrations = []migration{
	{version: 1, stmts: []string{
		`CREATE TABLE users (
			id            INTEGER PRIMARY KEY AUTOINCREMENT,
			username      TEXT    NOT NULL,
			username_key  TEXT    NOT NULL,
			password_hash BLOB    NOT NULL,
			created_at    INTEGER NOT NULL,
			CONSTRAINT users_username_key_unique UNIQUE (username_key)
		)`,
		`CREATE TABLE sessions (
			token_hash BLOB    NOT NULL PRIMARY KEY,
			user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			created_at INTEGER NOT NULL,
			expires_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
		`CREATE INDEX sessions_user_id ON sessions (user_id)`,
	}},
}

// sqliteStore is the SQLite Store.
//
// SQLite admits one writer at a time. Rather than let concurrent writers
// collide and spin in the busy handler, every write goes through writer, a
// pool of exactly one connection, so writers queue in database/sql (in FIFO
// order, honouring their contexts) and never see SQLITE_BUSY from each
// other. Reads go through reader, a pool of StoreOptions.MaxOpenConns
// query-only connections; in WAL mode they run in parallel with the writer
// and see every committed write. The busy timeout still matters: it covers
// other processes (wharfd workers) sharing the file.
//
// For ":memory:" writer and reader are the same single-connection pool,
// since each connection to ":memory:" would be a separate database.
type sqliteStore struct {
	writer *sql.DB // one connection; all writes and migrations
	reader *sql.DB // query-only connections; all reads
	closed atomic.Bool
}

var _ Store = (*sqliteStore)(nil)

// openSQLite opens the database at path ("" or ":memory:" for an in-memory
// one), which may carry a "?query" of driver parameters.
func openSQLite(ctx context.Context, path string, opts StoreOptions) (*sqliteStore, error) {
	path, extra, _ := strings.Cut(path, "?")
	if extra != "" {
		if _, err := url.ParseQuery(extra); err != nil {
			return nil, fmt.Errorf("%w: sqlite query parameters: %v", ErrUnsupportedURL, err)
		}
	}
	busy := "busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")"
	params := func(kv ...string) string {
		q := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			q.Add(kv[i], kv[i+1])
		}
		s := q.Encode()
		if extra != "" {
			s += "&" + extra
		}
		return s
	}

	s := &sqliteStore{}
	if path == "" || path == ":memory:" {
		db, err := sql.Open("sqlite", ":memory:?"+params("_pragma", "foreign_keys(1)", "_pragma", busy))
		if err != nil {
			return nil, fmt.Errorf("accounts: open sqlite: %w", err)
		}
		// The database lives as long as its one connection: never let
		// database/sql close it for age or idleness.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.writer, s.reader = db, db
	} else {
		if err := createPrivateFile(path); err != nil {
			return nil, err
		}
		w, err := sql.Open("sqlite", path+"?"+params(
			"_pragma", busy,
			"_pragma", "journal_mode(WAL)",
			"_pragma", "foreign_keys(1)",
			"_txlock", "immediate"))
		if err != nil {
			return nil, fmt.Errorf("accounts: open sqlite %s: %w", path, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(opts.ConnMaxLifetime)
		s.writer = w
		// The reader opens only after the writer has switched the file
		// to WAL (journal_mode is persistent), which migrate below does
		// by opening the writer's connection first.
	}

	if err := s.migrateRetrying(ctx, opts.BusyTimeout); err != nil {
		s.writer.Close()
		return nil, err
	}

	if s.reader == nil {
		r, err := sql.Open("sqlite", path+"?"+params(
			"_pragma", busy,
			"_pragma", "foreign_keys(1)",
			"_pragma", "query_only(1)"))
		if err != nil {
			s.writer.Close()
			return nil, fmt.Errorf("accounts: open sqlite %s: %w", path, err)
		}
		r.SetMaxOpenConns(opts.MaxOpenConns)
		r.SetMaxIdleConns(opts.MaxIdleConns)
		r.SetConnMaxLifetime(opts.ConnMaxLifetime)
		s.reader = r
		if err := r.PingContext(ctx); err != nil {
			s.writer.Close()
			r.Close()
			return nil, fmt.Errorf("accounts: open sqlite %s: %w", path, err)
		}
	}
	return s, nil
}

// createPrivateFile creates path's directory and, if path does not exist, an
// empty file readable by its owner only, so SQLite does not create the
// database (and its -wal and -shm files, which copy the mode) world-readable.
func createPrivateFile(path string) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("accounts: create database directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("accounts: create database file: %w", err)
	}
	return f.Close()
}

// migrateRetrying runs migrate, retrying for up to patience while it fails
// with SQLITE_BUSY. The busy timeout does not cover every lock a first open
// takes: when several processes open a new file at once, the switch to WAL
// (run as the writer's connection opens) and the first transaction can find
// each other in a state where SQLite returns SQLITE_BUSY at once instead of
// waiting, to avoid a deadlock. Starting over from a fresh connection
// resolves it.
func (s *sqliteStore) migrateRetrying(ctx context.Context, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	backoff := time.Millisecond
	for {
		err := s.migrate(ctx)
		if err == nil || sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		// Jitter keeps the openers from colliding again in lockstep.
		wait := backoff + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("accounts: migrate sqlite: %w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// migrate brings the schema up to the newest version in one IMMEDIATE
// transaction, which also serialises concurrent openers in several
// processes.
func (s *sqliteStore) migrate(ctx context.Context) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("accounts: migrate sqlite: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS accounts_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("accounts: migrate sqlite: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM accounts_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("accounts: migrate sqlite: %w", err)
	}
	latest := sqliteMigrations[len(sqliteMigrations)-1].version
	if current > latest {
		return fmt.Errorf("%w: sqlite schema version %d, this program knows up to %d", ErrSchemaTooNew, current, latest)
	}
	for _, m := range sqliteMigrations {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("accounts: migrate sqlite to version %d: %w", m.version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, micros(time.Now())); err != nil {
			return fmt.Errorf("accounts: migrate sqlite to version %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("accounts: migrate sqlite: %w", err)
	}
	return nil
}

// sqliteCode returns the extended SQLite result code of err, or 0. The
// driver enables extended result codes, so a UNIQUE violation is
// SQLITE_CONSTRAINT_UNIQUE rather than plain SQLITE_CONSTRAINT.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func (s *sqliteStore) CreateUser(ctx context.Context, username string, passwordHash []byte, now time.Time) (User, error) {
	if s.closed.Load() {
		return User{}, ErrClosed
	}
	now = storeTime(now)
	var id int64
	err := s.writer.QueryRowContext(ctx,
		`INSERT INTO users (username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		username, usernameKey(username), passwordHash, micros(now)).Scan(&id)
	if err != nil {
		// users has one UNIQUE constraint (the id primary key fails
		// with SQLITE_CONSTRAINT_PRIMARYKEY instead), so the code alone
		// identifies it.
		if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
			return User{}, ErrUsernameTaken
		}
		return User{}, fmt.Errorf("accounts: create user: %w", err)
	}
	return User{ID: id, Username: username, CreatedAt: now}, nil
}

func (s *sqliteStore) UserByName(ctx context.Context, username string) (User, []byte, error) {
	if s.closed.Load() {
		return User{}, nil, ErrClosed
	}
	var (
		u    User
		hash []byte
		at   int64
	)
	err := s.reader.QueryRowContext(ctx,
		`SELECT id, username, password_hash, created_at FROM users WHERE username_key = ?`,
		usernameKey(username)).Scan(&u.ID, &u.Username, &hash, &at)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, nil, ErrNotFound
		}
		return User{}, nil, fmt.Errorf("accounts: user by name: %w", err)
	}
	u.CreatedAt = fromMicros(at)
	return u, hash, nil
}

func (s *sqliteStore) UserByID(ctx context.Context, id int64) (User, error) {
	if s.closed.Load() {
		return User{}, ErrClosed
	}
	u := User{ID: id}
	var at int64
	err := s.reader.QueryRowContext(ctx,
		`SELECT username, created_at FROM users WHERE id = ?`, id).Scan(&u.Username, &at)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, ErrNotFound
		}
		return User{}, fmt.Errorf("accounts: user by id: %w", err)
	}
	u.CreatedAt = fromMicros(at)
	return u, nil
}

func (s *sqliteStore) CreateSession(ctx context.Context, sess Session) error {
	if s.closed.Load() {
		return ErrClosed
	}
	_, err := s.writer.ExecContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, micros(sess.CreatedAt), micros(sess.ExpiresAt))
	if err != nil {
		if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
			return fmt.Errorf("%w: user %d", ErrNotFound, sess.UserID)
		}
		return fmt.Errorf("accounts: create session: %w", err)
	}
	return nil
}

func (s *sqliteStore) SessionByTokenHash(ctx context.Context, tokenHash []byte) (Session, error) {
	if s.closed.Load() {
		return Session{}, ErrClosed
	}
	var (
		sess            Session
		created, expire int64
	)
	err := s.reader.QueryRowContext(ctx,
		`SELECT user_id, created_at, expires_at FROM sessions WHERE token_hash = ?`,
		tokenHash).Scan(&sess.UserID, &created, &expire)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Session{}, ErrNotFound
		}
		return Session{}, fmt.Errorf("accounts: session by token: %w", err)
	}
	sess.TokenHash = append([]byte(nil), tokenHash...)
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expire)
	return sess, nil
}

func (s *sqliteStore) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("accounts: delete session: %w", err)
	}
	return nil
}

func (s *sqliteStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("accounts: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("accounts: delete expired sessions: %w", err)
	}
	return n, nil
}

func (s *sqliteStore) CountUsers(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("accounts: count users: %w", err)
	}
	return n, nil
}

func (s *sqliteStore) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("accounts: ping sqlite: %w", err)
	}
	if s.reader != s.writer {
		if err := s.reader.PingContext(ctx); err != nil {
			return fmt.Errorf("accounts: ping sqlite: %w", err)
		}
	}
	return nil
}

// Close closes both pools. database/sql waits for queries in progress to
// release their connections before closing them.
func (s *sqliteStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var err error
	if s.reader != s.writer {
		err = s.reader.Close()
	}
	// The writer closes last: closing the last connection checkpoints the
	// WAL into the main file and removes the -wal and -shm files.
	return errors.Join(err, s.writer.Close())
}
