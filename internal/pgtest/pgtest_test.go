package pgtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(Wrap(m))
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// adminURL returns the URL New creates databases through.
func adminURL(t *testing.T) string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	New(t) // starts the private server, or skips
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.srv.adminURL
}

func databaseExists(t *testing.T, admin, name string) bool {
	t.Helper()
	var n int
	err := connect(t, admin).QueryRow(context.Background(),
		`SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestNewGivesSeparateEmptyDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := New(t), New(t)
	if a == b {
		t.Fatalf("two calls returned the same URL %s", a)
	}
	ca, cb := connect(t, a), connect(t, b)

	var tables int
	if err := ca.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("new database has %d tables, want 0", tables)
	}
	if _, err := ca.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}
	if err := cb.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatal("a table created in one test database is visible in another")
	}
}

func TestCleanupDropsDatabase(t *testing.T) {
	admin := adminURL(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		u := New(t)
		name = strings.TrimPrefix(u[strings.LastIndex(u, "/"):strings.Index(u, "?")], "/")
		// A connection left open must not stop the drop.
		c, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		if !databaseExists(t, admin, name) {
			t.Fatalf("database %s does not exist during the test", name)
		}
	})
	if name == "" {
		t.Fatal("inner test did not run")
	}
	if databaseExists(t, admin, name) {
		t.Fatalf("database %s still exists after its test", name)
	}
}

func TestEnvURL(t *testing.T) {
	admin := adminURL(t)
	t.Setenv(EnvURL, admin)
	u := New(t)
	if !strings.HasPrefix(u, strings.SplitN(admin, "/postgres?", 2)[0]) {
		t.Fatalf("New with %s=%s returned %s, on another server", EnvURL, admin, u)
	}
	var db string
	if err := connect(t, u).QueryRow(context.Background(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(db, "wharf_test_") {
		t.Fatalf("connected to database %q, want a wharf_test_ one", db)
	}
}

func TestBadEnvURL(t *testing.T) {
	_, err := createDatabase("host=localhost user=x", func(func()) {})
	if !errors.Is(err, ErrBadURL) {
		t.Fatalf("createDatabase with a keyword/value string: %v, want ErrBadURL", err)
	}
}

func TestFindBinaries(t *testing.T) {
	tests := []struct {
		name     string
		versions []string // directories under lib/ with both programs
		partial  []string // directories with initdb only
		want     string   // version chosen, "" for none
	}{
		{name: "highest numeric version", versions: []string{"9.6", "15", "16", "12"}, want: "16"},
		{name: "skips incomplete", versions: []string{"14"}, partial: []string{"17"}, want: "14"},
		{name: "single", versions: []string{"15"}, want: "15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := t.TempDir()
			mk := func(v string, progs ...string) {
				bin := filepath.Join(lib, v, "bin")
				if err := os.MkdirAll(bin, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, p := range progs {
					if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, v := range tt.versions {
				mk(v, "initdb", "postgres")
			}
			for _, v := range tt.partial {
				mk(v, "initdb")
			}
			got, ok := findBinaries(lib)
			if !ok {
				t.Fatal("found nothing")
			}
			if want := filepath.Join(lib, tt.want, "bin", "initdb"); got.initdb != want {
				t.Fatalf("initdb = %s, want %s", got.initdb, want)
			}
			if want := filepath.Join(lib, tt.want, "bin", "postgres"); got.postgres != want {
				t.Fatalf("postgres = %s, want %s", got.postgres, want)
			}
		})
	}
}

func TestNewWithoutWrapFails(t *testing.T) {
	state.mu.Lock()
	state.wrapped = false
	state.mu.Unlock()
	defer func() {
		state.mu.Lock()
		state.wrapped = true
		state.mu.Unlock()
	}()
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(ft)
	}()
	<-done
	if !errors.Is(ft.err, ErrNotWrapped) {
		t.Fatalf("New without Wrap: %v, want ErrNotWrapped", ft.err)
	}
}

// fatalRecorder records what Fatal was called with and ends the goroutine,
// as testing.T does.
type fatalRecorder struct {
	testing.TB
	err error
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatal(args ...any) {
	if len(args) == 1 {
		f.err, _ = args[0].(error)
	}
	runtimeGoexit()
}
