package accounts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"wharf/internal/pgtest"
)

func TestPGPoolBoundsConnections(t *testing.T) {
	st := openStore(t, pgtest.New(t), StoreOptions{MaxOpenConns: 2})
	p := st.(*pgStore).pool.p
	ctx := context.Background()
	a, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := st.CountUsers(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query with 2 of MaxOpenConns=2 in use: %v, want DeadlineExceeded", err)
	}
	a.Release()
	if _, err := st.CountUsers(ctx); err != nil {
		t.Fatalf("query after a release: %v", err)
	}
	b.Release()
}

// TestPGPoolRecoversFromDeadConnections kills the server side of every
// pooled connection; once they have been idle long enough to be checked,
// the pool replaces them without the caller seeing an error.
func TestPGPoolRecoversFromDeadConnections(t *testing.T) {
	url := pgtest.New(t)
	st := openStore(t, url, StoreOptions{MaxOpenConns: 4})
	ctx := context.Background()
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no pooled connection to kill")
	}

	time.Sleep(pgHealthCheck + 500*time.Millisecond)
	for i := range 3 {
		if _, err := st.CountUsers(ctx); err != nil {
			t.Fatalf("query %d after the server dropped the pool's connections: %v", i, err)
		}
	}
}
