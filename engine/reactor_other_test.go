//go:build !linux

package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Off Linux, asking for the reactor gives the goroutine backend, says so in
// one log line, and reports it in Config and Stats.
func TestReactorFallsBackToGoroutine(t *testing.T) {
	var logs bytes.Buffer
	e, err := New(Config{Kind: Reactor, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, newTH())
	if err != nil {
		t.Fatal(err)
	}
	if k := e.Config().Kind; k != Goroutine {
		t.Fatalf("Config().Kind = %v, want goroutine", k)
	}
	if k := e.Stats().Kind; k != Goroutine {
		t.Fatalf("Stats().Kind = %v, want goroutine", k)
	}
	if n := strings.Count(logs.String(), "using the goroutine backend"); n != 1 {
		t.Fatalf("fallback logged %d times, want once:\n%s", n, logs.String())
	}
}

// kickLoops has no loops to kick off Linux: every engine is a goroutine
// engine there (see kick).
func kickLoops(*Engine) {}
