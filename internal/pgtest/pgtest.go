package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the URL of an existing
// PostgreSQL server to create test databases on.
const EnvURL = "WHARF_TEST_POSTGRES_URL"

// SkipMessage is the reason New gives t.Skip when no PostgreSQL is available.
const SkipMessage = "PostgreSQL not installed (apt-get install postgresql)"

// adminTimeout bounds each administrative step: connecting to the server,
// creating a database, dropping one.
const adminTimeout = 30 * time.Second

// TestingM is the part of *testing.M that Wrap needs; goleak.VerifyTestMain
// accepts the same interface.
type TestingM interface {
	Run() int
}

// state is the package's process-wide state: whether Wrap is in use, and the
// private server, started by the first New that needs it.
var state struct {
	mu      sync.Mutex // guards the fields below
	wrapped bool       // set by Wrap's Run, for its whole duration
	started bool       // the first start was attempted; srv and err hold its result
	srv     *server    // nil unless a private server is running
	err     error      // why the private server could not start
}

// Wrap returns m with a Run that runs the tests and then stops the private
// server, if one was started. Call it in TestMain:
//
//	goleak.VerifyTestMain(pgtest.Wrap(m))
func Wrap(m TestingM) TestingM { return wrappedM{m} }

type wrappedM struct{ m TestingM }

func (w wrappedM) Run() int {
	state.mu.Lock()
	state.wrapped = true
	state.mu.Unlock()
	defer stopShared()
	return w.m.Run()
}

// stopShared stops the private server, if any, and forgets it.
func stopShared() {
	state.mu.Lock()
	srv := state.srv
	state.srv, state.started, state.err, state.wrapped = nil, false, nil, false
	state.mu.Unlock()
	if srv != nil {
		srv.stop()
	}
}

// New returns the URL of a new, empty PostgreSQL database for this test,
// dropped in t.Cleanup, or skips the test if no PostgreSQL is available; see
// the package documentation. The database's owner is the server's superuser
// (or the user of WHARF_TEST_POSTGRES_URL), and the URL carries that user's
// credentials. Anything the test opens on the database must be closed by a
// cleanup registered after New, or before the test returns; the drop
// disconnects leftover sessions anyway.
//
// New may be called from parallel tests.
func New(t testing.TB) string {
	t.Helper()
	state.mu.Lock()
	wrapped := state.wrapped
	state.mu.Unlock()
	if !wrapped {
		t.Fatal(ErrNotWrapped)
	}

	admin := os.Getenv(EnvURL)
	if admin == "" {
		srv, err := sharedServer()
		if err != nil {
			t.Fatal(err)
		}
		if srv == nil {
			t.Skip(SkipMessage)
		}
		admin = srv.adminURL
	}
	dbURL, err := createDatabase(admin, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	return dbURL
}

// sharedServer returns the private server, starting it on first use. It
// returns nil, nil when PostgreSQL is not installed.
func sharedServer() (*server, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if !state.started {
		// Holding mu while starting makes concurrent first calls wait
		// for the one start instead of racing to start several.
		state.started = true
		bins, ok := findBinaries(defaultLibDir)
		if ok {
			state.srv, state.err = startServer(bins)
		}
	}
	return state.srv, state.err
}

// createDatabase creates a uniquely named database on the server at admin,
// registers its drop with cleanup, and returns its URL.
func createDatabase(admin string, cleanup func(func())) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", ErrBadURL
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("wharf_test_%d_%s", os.Getpid(), hex.EncodeToString(rnd[:]))

	if err := adminExec(admin, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	cleanup(func() {
		if err := dropDatabase(admin, name); err != nil {
			// Cleanup has no test to fail: the test is over. The
			// database is left behind; say so.
			fmt.Fprintf(os.Stderr, "pgtest: drop database %s: %v\n", name, err)
		}
	})
	u.Path = "/" + name
	return u.String(), nil
}

// dropDatabase drops name, disconnecting anyone still connected to it.
func dropDatabase(admin, name string) error {
	q := `DROP DATABASE IF EXISTS ` + pgx.Identifier{name}.Sanitize()
	err := adminExec(admin, q+` WITH (FORCE)`)
	if err != nil && strings.Contains(err.Error(), "syntax error") {
		// Before PostgreSQL 13 there is no FORCE.
		err = adminExec(admin, q)
	}
	return err
}

// adminExec runs one statement on a new connection to admin.
func adminExec(admin, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}
