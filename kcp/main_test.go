package kcp

import (
	"testing"

	"go.uber.org/goleak"
)

// kcp-go starts its timer scheduler's goroutines when the package loads and
// never stops them; IgnoreCurrent leaves those out of the leak check.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }
