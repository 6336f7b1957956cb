package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"wharf/internal/pgtest"
)

// A test that needs PostgreSQL asks New for a database of its own. The
// package's TestMain must run the tests through pgtest.Wrap.
func ExampleNew() {
	var t *testing.T // the test's *testing.T
	url := pgtest.New(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
}

// TestMain runs the tests through Wrap so the private server is stopped
// before goleak checks for leaks.
func ExampleWrap() {
	var m *testing.M   // TestMain's argument
	_ = pgtest.Wrap(m) // goleak.VerifyTestMain(pgtest.Wrap(m))
}
