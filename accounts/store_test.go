package accounts

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStoreTimesAndSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		// A local-zone time with nanoseconds: stored as UTC microseconds.
		now := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3*3600))
		u, err := st.CreateUser(ctx, "Judy", []byte("not-really-a-hash"), now)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2031, 5, 6, 4, 8, 9, 123456000, time.UTC)
		if u.CreatedAt != want {
			t.Fatalf("CreatedAt = %v, want %v", u.CreatedAt, want)
		}
		got, hash, err := st.UserByName(ctx, "jUDY")
		if err != nil || got != u || string(hash) != "not-really-a-hash" {
			t.Fatalf("UserByName = %+v, %q, %v; want %+v", got, hash, err, u)
		}
		if _, _, err := st.UserByName(ctx, "nobody"); err != ErrNotFound {
			t.Fatalf("UserByName(unknown): %v, want ErrNotFound", err)
		}

		key := sha256.Sum256([]byte("token"))
		s := Session{TokenHash: key[:], UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		gs, err := st.SessionByTokenHash(ctx, key[:])
		if err != nil || gs.UserID != u.ID || gs.CreatedAt != want || gs.ExpiresAt != want.Add(time.Hour) {
			t.Fatalf("SessionByTokenHash = %+v, %v", gs, err)
		}
		other := sha256.Sum256([]byte("other"))
		if err := st.CreateSession(ctx, Session{TokenHash: other[:], UserID: u.ID + 1000,
			CreatedAt: now, ExpiresAt: now}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("CreateSession for a missing user: %v, want ErrNotFound", err)
		}
		if _, err := st.SessionByTokenHash(ctx, other[:]); err != ErrNotFound {
			t.Fatalf("SessionByTokenHash(unknown): %v, want ErrNotFound", err)
		}

		// DeleteExpiredSessions removes sessions with ExpiresAt <= now.
		if n, err := st.DeleteExpiredSessions(ctx, now.Add(time.Hour-time.Microsecond)); err != nil || n != 0 {
			t.Fatalf("DeleteExpiredSessions before expiry = %d, %v", n, err)
		}
		if n, err := st.DeleteExpiredSessions(ctx, now.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteExpiredSessions at expiry = %d, %v; want 1", n, err)
		}
		if err := st.DeleteSession(ctx, key[:]); err != nil {
			t.Fatalf("DeleteSession of a missing session: %v", err)
		}
		if err := st.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

func TestStoreClosed(t *testing.T) {
	forEachBackend(t, backends, func(t *testing.T, b backend) {
		ctx := context.Background()
		st, err := Open(ctx, b.open(t), StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		calls := map[string]error{
			"Ping": st.Ping(ctx),
			"CreateUser": func() error {
				_, err := st.CreateUser(ctx, "abc", nil, time.Now())
				return err
			}(),
			"UserByName": func() error { _, _, err := st.UserByName(ctx, "abc"); return err }(),
			"CountUsers": func() error { _, err := st.CountUsers(ctx); return err }(),
		}
		for name, err := range calls {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	forEachBackend(t, fileBackends, func(t *testing.T, b backend) {
		ctx := context.Background()
		url := b.open(t)
		st, err := Open(ctx, url, StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.CreateUser(ctx, "kim", []byte("h"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		st.Close()

		st = openStore(t, url, StoreOptions{})
		got, err := st.UserByID(ctx, u.ID)
		if err != nil || got != u {
			t.Fatalf("after reopening: %+v, %v; want %+v", got, err, u)
		}
		rawExec(t, st,
			`INSERT INTO accounts_migrations (version, applied_at) VALUES (999, 0)`,
			`INSERT INTO accounts_migrations (version, applied_at) VALUES (999, now())`)
		if st2, err := Open(ctx, url, StoreOptions{}); !errors.Is(err, ErrSchemaTooNew) {
			if err == nil {
				st2.Close()
			}
			t.Fatalf("Open of a database from the future: %v, want ErrSchemaTooNew", err)
		}
	})
}

// TestConcurrentOpen opens one new database from several goroutines at once,
// as wharfd workers starting together do: the migration must run once and
// every Open succeed.
func TestConcurrentOpen(t *testing.T) {
	forEachBackend(t, fileBackends, func(t *testing.T, b backend) {
		url := b.open(t)
		const n = 4
		var wg sync.WaitGroup
		stores := make([]Store, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = Open(context.Background(), url, StoreOptions{}) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open %d: %v", i, errs[i])
			} else {
				defer stores[i].Close()
			}
		}
		if t.Failed() {
			return
		}
		if _, err := stores[0].CreateUser(context.Background(), "lee", []byte("h"), time.Now()); err != nil {
			t.Fatal(err)
		}
		if c, err := stores[n-1].CountUsers(context.Background()); err != nil || c != 1 {
			t.Fatalf("CountUsers through another store = %d, %v; want 1", c, err)
		}
	})
}

func TestSQLiteSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "wharf.db")
	st := openStore(t, "sqlite://"+path, StoreOptions{BusyTimeout: 1234 * time.Millisecond})
	s := st.(*sqliteStore)
	ctx := context.Background()

	tests := []struct {
		pragma string
		writer string // expected on the writer connection
		reader string // expected on a reader connection
	}{
		{"journal_mode", "wal", "wal"},
		{"foreign_keys", "1", "1"},
		{"busy_timeout", "1234", "1234"},
		{"query_only", "0", "1"},
	}
	for _, tt := range tests {
		var w, r string
		if err := s.writer.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := s.reader.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&r); err != nil {
			t.Fatal(err)
		}
		if w != tt.writer || r != tt.reader {
			t.Errorf("PRAGMA %s = %s (writer), %s (reader); want %s, %s", tt.pragma, w, r, tt.writer, tt.reader)
		}
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %v, want 0600", perm)
	}
	// The reader pool refuses writes.
	if _, err := s.reader.ExecContext(ctx, `DELETE FROM users`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		url  string
		opts StoreOptions
		is   error
		not  string // must not appear in the message
	}{
		{"no scheme", "data/wharf.db", StoreOptions{}, ErrUnsupportedURL, ""},
		{"unknown scheme", "mysql://root:hunter2@db/wharf", StoreOptions{}, ErrUnsupportedURL, "hunter2"},
		{"bad postgres URL", "postgres://u:hunter2@host:notaport/db", StoreOptions{}, ErrUnsupportedURL, "hunter2"},
		{"negative MaxOpenConns", "sqlite://:memory:", StoreOptions{MaxOpenConns: -1}, ErrInvalidConfig, ""},
		{"negative BusyTimeout", "sqlite://:memory:", StoreOptions{BusyTimeout: -1}, ErrInvalidConfig, ""},
		{"bad sqlite query", "sqlite://:memory:?%zz", StoreOptions{}, ErrUnsupportedURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Open(ctx, tt.url, tt.opts)
			if err == nil {
				st.Close()
			}
			if !errors.Is(err, tt.is) {
				t.Fatalf("Open: %v, want %v", err, tt.is)
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	// Port 1 on loopback: nothing listens there, so the connection is
	// refused at once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := Open(ctx, "postgres://wharf:hunter2@127.0.0.1:1/wharf?connect_timeout=5", StoreOptions{})
	if err == nil {
		st.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q contains the password", err)
	}
}

// TestSQLiteSharedFile writes to one SQLite file through two stores at once,
// as two wharfd worker processes do. Their writers contend for SQLite's
// file lock, which the busy timeout must absorb: no SQLITE_BUSY.
func TestSQLiteSharedFile(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "shared.db")
	a, b := openStore(t, url, StoreOptions{}), openStore(t, url, StoreOptions{})
	ctx := context.Background()
	n := 200
	if testing.Short() {
		n = 50
	}
	var wg sync.WaitGroup
	for w := range 8 {
		st := []Store{a, b}[w%2]
		wg.Go(func() {
			for i := range n {
				u, err := st.CreateUser(ctx, fmt.Sprintf("w%d_%d", w, i), []byte("h"), time.Now())
				if err != nil {
					t.Errorf("CreateUser: %v", err)
					return
				}
				key := sha256.Sum256(fmt.Appendf(nil, "%d/%d", w, i))
				if err := st.CreateSession(ctx, Session{TokenHash: key[:], UserID: u.ID,
					CreatedAt: time.Now(), ExpiresAt: time.Now()}); err != nil {
					t.Errorf("CreateSession: %v", err)
					return
				}
				if _, err := st.DeleteExpiredSessions(ctx, time.Now()); err != nil {
					t.Errorf("DeleteExpiredSessions: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c, err := b.CountUsers(ctx); err != nil || c != int64(8*n) {
		t.Fatalf("CountUsers = %d, %v; want %d", c, err, 8*n)
	}
}

// TestSQLiteConcurrentFirstOpen opens one new SQLite file from several stores
// at once, as the workers of a freshly started wharfd do: each switches the
// file to WAL and runs the migrations. None may fail with SQLITE_BUSY, and the
// schema is migrated exactly once.
func TestSQLiteConcurrentFirstOpen(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		url := "sqlite://" + filepath.Join(t.TempDir(), fmt.Sprintf("first%d.db", round))
		const openers = 6
		stores := make([]Store, openers)
		errs := make([]error, openers)
		var wg sync.WaitGroup
		for i := range openers {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				stores[i], errs[i] = Open(ctx, url, StoreOptions{})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open #%d of a new file alongside %d others: %v", round, i, openers-1, err)
			}
		}
		s := stores[0].(*sqliteStore)
		var n int
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM accounts_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := len(sqliteMigrations); n != want {
			t.Errorf("round %d: %d migration rows, want %d (each applied once)", round, n, want)
		}
		for _, st := range stores {
			st.Close()
		}
	}
}
