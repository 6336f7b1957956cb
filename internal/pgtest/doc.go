// Package pgtest gives tests a real PostgreSQL database.
//
// New returns the URL of a fresh, empty database that exists for one test and
// is dropped when the test ends:
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.New(t) // skips the test if PostgreSQL is not installed
//		store, err := accounts.Open(ctx, url, accounts.StoreOptions{})
//		...
//	}
//
// # Where the server comes from
//
//  1. If the environment variable WHARF_TEST_POSTGRES_URL is set
//     ("postgres://user:pass@host:5432/postgres"), New connects to that
//     server with those credentials, which must be allowed to create
//     databases, and creates a uniquely named database on it for each test.
//  2. Otherwise, if the PostgreSQL server programs are installed
//     (/usr/lib/postgresql/*/bin/initdb and postgres, as Debian's
//     "postgresql" package puts them, or initdb and postgres on PATH), the
//     first New in a test binary starts a private throwaway server: initdb
//     into a new temporary directory, then postgres listening on a Unix
//     socket in that directory and on a free port on 127.0.0.1, with trust
//     authentication and fsync off (the data is thrown away). PostgreSQL
//     refuses to run as root, so when the tests run as root the server runs
//     as the "postgres" user, which the Debian package creates, and owns
//     the temporary directory. The server is shared by the whole test
//     binary and stopped, and its directory removed, when the binary's
//     tests have finished.
//  3. Otherwise New calls t.Skip("PostgreSQL not installed (apt-get install
//     postgresql)").
//
// A failure to start an installed server fails the test rather than skipping
// it: a broken installation should be seen.
//
// # TestMain
//
// The private server must be stopped when the tests finish, so a package that
// calls New must run its tests through Wrap:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(pgtest.Wrap(m))
//	}
//
// Wrap's Run runs the tests and then stops the server, before goleak looks
// for leaked goroutines. New fails the test if Wrap is not in use, so a
// forgotten TestMain is caught at once rather than leaving a postgres process
// behind. If the test binary dies without reaching that point (a panic, or go
// test's timeout), the kernel sends the server SIGQUIT as its parent dies
// (Linux's parent-death signal), and PostgreSQL shuts down immediately; only
// the temporary directory is left behind.
//
// Benchmarks may call New too: it takes a testing.TB.
package pgtest
