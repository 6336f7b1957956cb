package pgtest

import "errors"

// Errors reported by New through t.Fatal.
var (
	// ErrNotWrapped is reported when New is called from a test binary whose
	// TestMain does not run the tests through Wrap.
	ErrNotWrapped = errors.New("pgtest: New needs TestMain to run the tests through pgtest.Wrap, " +
		"e.g. goleak.VerifyTestMain(pgtest.Wrap(m)), so the PostgreSQL server is stopped")

	// ErrBadURL is reported when WHARF_TEST_POSTGRES_URL is not a postgres:// URL.
	ErrBadURL = errors.New("pgtest: " + EnvURL + " must be a postgres:// or postgresql:// URL")

	// ErrStart is wrapped by the error reported when the private server
	// cannot be started.
	ErrStart = errors.New("pgtest: cannot start a private PostgreSQL server")
)
