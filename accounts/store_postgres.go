package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgMigrations is the PostgreSQL schema history; see migration. It matches
// sqliteMigrations column for column, with native types.
var pgMigrations = []migration{
	{version: 1, stmts: []string{
		`CREATE TABLE users (
			id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			username      TEXT        NOT NULL,
			username_key  TEXT        NOT NULL,
			password_hash BYTEA       NOT NULL,
			created_at    TIMESTAMPTZ NOT NULL,
			CONSTRAINT users_username_key_unique UNIQUE (username_key)
		)`,
		`CREATE TABLE sessions (
			token_hash BYTEA       NOT NULL PRIMARY KEY,
			user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			created_at TIMESTAMPTZ NOT NULL,
			expires_at TIMESTAMPTZ NOT NULL
		)`,
		`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
		`CREATE INDEX sessions_user_id ON sessions (user_id)`,
	}},
}

// PostgreSQL error codes (SQLSTATE) the store maps to its own errors.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// pgMigrationLock is the key of the transaction-scoped advisory lock that
// serialises migrations when several processes open the same database at
// once ("wharfacc" in ASCII).
const pgMigrationLock int64 = 0x7768617266616363

// pgStore is the PostgreSQL Store. Every call borrows one connection from
// pool for one statement; PostgreSQL's MVCC lets them all run in parallel.
type pgStore struct {
	pool   *pgPool
	sql    pgSQL // database/sql handle on pool, for DatabaseOf
	closed atomic.Bool
}

var _ Store = (*pgStore)(nil)

func openPostgres(ctx context.Context, rawURL string, opts StoreOptions) (*pgStore, error) {
	pool, err := newPGPool(rawURL, opts)
	if err != nil {
		// pgx's message quotes the URL with the password redacted on a
		// best-effort basis only; do not pass it on.
		return nil, fmt.Errorf("%w: cannot parse PostgreSQL URL %s", ErrUnsupportedURL, RedactURL(rawURL))
	}
	s := &pgStore{pool: pool}
	if err := s.migrate(ctx); err != nil {
		s.pool.close()
		return nil, err
	}
	return s, nil
}

// migrate brings the schema up to the newest version in one transaction,
// holding an advisory lock so concurrent openers take turns.
func (s *pgStore) migrate(ctx context.Context) error {
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS accounts_migrations (
				version    INTEGER     NOT NULL PRIMARY KEY,
				applied_at TIMESTAMPTZ NOT NULL
			)`); err != nil {
				return err
			}
			var current int
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM accounts_migrations`).Scan(&current); err != nil {
				return err
			}
			latest := pgMigrations[len(pgMigrations)-1].version
			if current > latest {
				return fmt.Errorf("%w: postgres schema version %d, this program knows up to %d", ErrSchemaTooNew, current, latest)
			}
			for _, m := range pgMigrations {
				if m.version <= current {
					continue
				}
				for _, stmt := range m.stmts {
					if _, err := tx.Exec(ctx, stmt); err != nil {
						return fmt.Errorf("version %d: %w", m.version, err)
					}
				}
				if _, err := tx.Exec(ctx, `INSERT INTO accounts_migrations (version, applied_at) VALUES ($1, now())`, m.version); err != nil {
					return fmt.Errorf("version %d: %w", m.version, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		if errors.Is(err, ErrSchemaTooNew) {
			return err
		}
		return fmt.Errorf("accounts: migrate postgres: %w", err)
	}
	return nil
}

// pgCode returns the SQLSTATE and constraint name of err, if it is a server
// error.
func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

func (s *pgStore) CreateUser(ctx context.Context, username string, passwordHash []byte, now time.Time) (User, error) {
	if s.closed.Load() {
		return User{}, ErrClosed
	}
	now = storeTime(now)
	var id int64
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx,
			`INSERT INTO users (username, username_key, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			username, usernameKey(username), passwordHash, now).Scan(&id)
	})
	if err != nil {
		if code, c := pgCode(err); code == pgUniqueViolation && c == "users_username_key_unique" {
			return User{}, ErrUsernameTaken
		}
		return User{}, fmt.Errorf("accounts: create user: %w", err)
	}
	return User{ID: id, Username: username, CreatedAt: now}, nil
}

func (s *pgStore) UserByName(ctx context.Context, username string) (User, []byte, error) {
	if s.closed.Load() {
		return User{}, nil, ErrClosed
	}
	var (
		u    User
		hash []byte
	)
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx,
			`SELECT id, username, password_hash, created_at FROM users WHERE username_key = $1`,
			usernameKey(username)).Scan(&u.ID, &u.Username, &hash, &u.CreatedAt)
	})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return User{}, nil, ErrNotFound
		}
		return User{}, nil, fmt.Errorf("accounts: user by name: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, hash, nil
}

func (s *pgStore) UserByID(ctx context.Context, id int64) (User, error) {
	if s.closed.Load() {
		return User{}, ErrClosed
	}
	u := User{ID: id}
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT username, created_at FROM users WHERE id = $1`, id).
			Scan(&u.Username, &u.CreatedAt)
	})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return User{}, ErrNotFound
		}
		return User{}, fmt.Errorf("accounts: user by id: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

func (s *pgStore) CreateSession(ctx context.Context, sess Session) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx,
			`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			sess.TokenHash, sess.UserID, storeTime(sess.CreatedAt), storeTime(sess.ExpiresAt))
		return err
	})
	if err != nil {
		if code, _ := pgCode(err); code == pgForeignKeyViolation {
			return fmt.Errorf("%w: user %d", ErrNotFound, sess.UserID)
		}
		return fmt.Errorf("accounts: create session: %w", err)
	}
	return nil
}

func (s *pgStore) SessionByTokenHash(ctx context.Context, tokenHash []byte) (Session, error) {
	if s.closed.Load() {
		return Session{}, ErrClosed
	}
	var sess Session
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx,
			`SELECT user_id, created_at, expires_at FROM sessions WHERE token_hash = $1`, tokenHash).
			Scan(&sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Session{}, ErrNotFound
		}
		return Session{}, fmt.Errorf("accounts: session by token: %w", err)
	}
	sess.TokenHash = append([]byte(nil), tokenHash...)
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, nil
}

func (s *pgStore) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("accounts: delete session: %w", err)
	}
	return nil
}

func (s *pgStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		tag, err := conn.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, storeTime(now))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("accounts: delete expired sessions: %w", err)
	}
	return n, nil
}

func (s *pgStore) CountUsers(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("accounts: count users: %w", err)
	}
	return n, nil
}

func (s *pgStore) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.pool.with(ctx, func(conn *pgx.Conn) error { return conn.Ping(ctx) }); err != nil {
		return fmt.Errorf("accounts: ping postgres: %w", err)
	}
	return nil
}

// Close waits for calls in progress to return their connections, then
// closes every connection.
func (s *pgStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.closeSQL()
	s.pool.close()
	return nil
}
