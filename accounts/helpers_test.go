package accounts

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"wharf/internal/testkit"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"wharf/internal/pgtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtest.Wrap(m))
}

// backend opens a fresh, empty Store of one kind for a test.
type backend struct {
	name string
	open func(t testing.TB) string // returns the URL of a fresh database
}

var backends = []backend{
	{"sqlite", func(t testing.TB) string {
		// A subdirectory that does not exist yet: Open creates it.
		return "sqlite://" + filepath.Join(t.TempDir(), "data", "wharf.db")
	}},
	{"sqlite-memory", func(testing.TB) string { return "sqlite://:memory:" }},
	{"postgres", func(t testing.TB) string { return pgtest.New(t) }},
}

// fileBackends are the backends whose database outlives a store, for tests
// that reopen it.
var fileBackends = []backend{backends[0], backends[2]}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, bs []backend, fn func(t *testing.T, b backend)) {
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// forEachStore runs fn as a subtest per backend, with a fresh Store that is
// closed when the subtest ends.
func forEachStore(t *testing.T, fn func(t *testing.T, st Store)) {
	forEachBackend(t, backends, func(t *testing.T, b backend) {
		fn(t, openStore(t, b.open(t), StoreOptions{}))
	})
}

func openStore(t testing.TB, url string, opts StoreOptions) Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", RedactURL(url), err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.UTC))
}

// newService returns a Service on st with test defaults: bcrypt.MinCost so
// tests run fast, and hash-slot waits of a minute so that the concurrency
// tests (slow under -race) are not refused as busy: the tests of ErrBusy
// set their own. Fields set in cfg win.
func newService(t testing.TB, st Store, cfg Config) *Service {
	t.Helper()
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.MinCost
	}
	if cfg.LoginWait == 0 {
		cfg.LoginWait = time.Minute
	}
	if cfg.RegisterWait == 0 {
		cfg.RegisterWait = time.Minute
	}
	s, err := NewService(st, cfg)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return s
}

// secrets collects every error a test saw and, when the test ends, fails it
// if any error message contains one of the test's passwords or tokens.
type secrets struct {
	t       testing.TB
	mu      sync.Mutex // guards the fields below
	secrets []string
	errs    []error
}

func newSecrets(t testing.TB, ss ...string) *secrets {
	s := &secrets{t: t, secrets: ss}
	t.Cleanup(s.verify)
	return s
}

// add registers more secrets: passwords, tokens.
func (s *secrets) add(ss ...string) {
	s.mu.Lock()
	s.secrets = append(s.secrets, ss...)
	s.mu.Unlock()
}

// check records err (if not nil) and returns it.
func (s *secrets) check(err error) error {
	if err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err)
		s.mu.Unlock()
	}
	return err
}

func (s *secrets) verify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.errs {
		for _, sec := range s.secrets {
			if sec != "" && strings.Contains(err.Error(), sec) {
				s.t.Errorf("error %q contains a password or token", err)
			}
		}
	}
}

// rawUserRow reads a user's stored name and password hash straight from the
// database, bypassing the Store API.
func rawUserRow(t testing.TB, st Store, username string) (name string, hash []byte) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := st.(type) {
	case *sqliteStore:
		err = s.reader.QueryRowContext(ctx,
			`SELECT username, password_hash FROM users WHERE username_key = lower(?)`, username).Scan(&name, &hash)
	case *pgStore:
		err = s.pool.with(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT username, password_hash FROM users WHERE username_key = lower($1)`,
				username).Scan(&name, &hash)
		})
	default:
		t.Fatalf("unknown store type %T", st)
	}
	if err != nil {
		t.Fatalf("reading the users row: %v", err)
	}
	return name, hash
}

// rawExec runs a statement straight on the database, bypassing the Store API.
func rawExec(t testing.TB, st Store, sqliteStmt, pgStmt string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := st.(type) {
	case *sqliteStore:
		_, err = s.writer.ExecContext(ctx, sqliteStmt)
	case *pgStore:
		err = s.pool.with(ctx, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, pgStmt)
			return err
		})
	default:
		t.Fatalf("unknown store type %T", st)
	}
	if err != nil {
		t.Fatalf("raw exec: %v", err)
	}
}
