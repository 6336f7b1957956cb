// Package lifecycletest checks the start and stop convention every wharf
// server follows (engine.Engine, server.Server, httpd.Server): Start or
// Serve a second time returns the package's ErrStarted at once, and Start
// or Serve after Shutdown returns its closed error (engine.ErrEngineClosed,
// server.ErrServerClosed, httpd.ErrServerClosed), whether or not the
// server had started. It is for tests only.
package lifecycletest

import (
	"context"
	"errors"
	"testing"
)

// Server is what the convention is about.
type Server interface {
	Start() error
	Serve() error
	Shutdown(context.Context) error
}

// Check runs the convention on two servers from newServer: one started,
// then shut down; one shut down without starting. errStarted and errClosed
// are the package's errors.
func Check(t testing.TB, newServer func() Server, errStarted, errClosed error) {
	t.Helper()
	s := newServer()
	if err := s.Start(); err != nil {
		t.Fatalf("first Start: %v", err)
	}
	expect(t, "second Start", s.Start(), errStarted)
	expect(t, "Serve after Start", s.Serve(), errStarted)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expect(t, "Start after Shutdown", s.Start(), errClosed)
	expect(t, "Serve after Shutdown", s.Serve(), errClosed)

	never := newServer()
	if err := never.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
	expect(t, "Start after Shutdown of a server never started", never.Start(), errClosed)
}

func expect(t testing.TB, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}
