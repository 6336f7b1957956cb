package accounts

import (
	"context"
	"testing"
	"time"
)

// TestDatabaseOf checks that another package can keep its tables in the
// store's database through the handles DatabaseOf returns, and that
// closing the store releases them (goleak in TestMain sees database/sql's
// goroutine otherwise).
func TestDatabaseOf(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		db, ok := DatabaseOf(st)
		if !ok || (db.Dialect != "sqlite" && db.Dialect != "postgres") || db.Writer == nil || db.Reader == nil {
			t.Fatalf("DatabaseOf = %+v, %v", db, ok)
		}
		ctx := context.Background()
		if _, err := db.Writer.ExecContext(ctx, `CREATE TABLE other_things (id INTEGER PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Writer.ExecContext(ctx, `INSERT INTO other_things (id) VALUES (7)`); err != nil {
			t.Fatal(err)
		}
		var id int
		if err := db.Reader.QueryRowContext(ctx, `SELECT id FROM other_things`).Scan(&id); err != nil || id != 7 {
			t.Fatalf("read back %d, %v", id, err)
		}
		// The store still works alongside.
		if _, err := st.CreateUser(ctx, "alice", []byte("hash"), time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	if _, ok := DatabaseOf(nil); ok {
		t.Fatal("DatabaseOf(nil) reported a database")
	}
}
