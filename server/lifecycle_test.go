package server

import (
	"testing"

	"wharf/internal/lifecycletest"
)

// TestStartTwice: a second Start or Serve returns ErrStarted; Start or
// Serve after Shutdown returns ErrServerClosed.
func TestStartTwice(t *testing.T) {
	_, rt := newApp()
	lifecycletest.Check(t, func() lifecycletest.Server {
		s, err := New(Config{Logger: quietLogger(), StatsInterval: -1}, rt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, ErrStarted, ErrServerClosed)
}
