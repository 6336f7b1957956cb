package accounts

import (
	"database/sql"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"
)

// Database is where a Store keeps its tables, for packages that keep their
// own tables in the same database (package channels' SQL history), so that
// one SQLite file or one PostgreSQL database holds everything and no second
// pool is opened. The handles belong to the Store: do not close them; they
// stop working when the Store is closed.
type Database struct {
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// Writer runs writes. For SQLite it is the store's single write
	// connection, which begins transactions IMMEDIATE, so the writes of
	// every package queue together in Go rather than fail with
	// SQLITE_BUSY. Reader runs reads (query-only connections for SQLite).
	// For PostgreSQL both are one database/sql handle on the store's pgx
	// pool.
	Writer, Reader *sql.DB
}

// DatabaseOf returns the database of a Store returned by Open, and false
// for any other Store.
func DatabaseOf(st Store) (Database, bool) {
	switch s := st.(type) {
	case *sqliteStore:
		return Database{Dialect: "sqlite", Writer: s.writer, Reader: s.reader}, true
	case *pgStore:
		db := s.sqlDB()
		return Database{Dialect: "postgres", Writer: db, Reader: db}, true
	}
	return Database{}, false
}

// pgSQL is a database/sql handle on a pgStore's pool, made on first use
// (it runs a goroutine of database/sql's) and closed with the store.
type pgSQL struct {
	once sync.Once
	db   *sql.DB
}

func (s *pgStore) sqlDB() *sql.DB {
	s.sql.once.Do(func() { s.sql.db = stdlib.OpenDBFromPool(s.pool.p) })
	return s.sql.db
}

// closeSQL closes the database/sql handle, if one was made; the pool stays
// open (stdlib's handle does not own it).
func (s *pgStore) closeSQL() {
	s.sql.once.Do(func() {}) // no handle may be made after this
	if s.sql.db != nil {
		s.sql.db.Close()
	}
}
