package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// envMain makes the test binary behave as wharf-bench itself: hold re-runs
// its own executable for its child processes, which under `go test` is
// this binary, and the child-death test runs a whole hold parent this way.
const envMain = "WHARF_BENCH_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		main()
		return
	}
	// kcp-go starts its timer scheduler's goroutines when the package loads
	// and never stops them; IgnoreCurrent leaves those out of the check.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
