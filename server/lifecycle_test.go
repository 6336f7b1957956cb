package server

import (
	"context"
	"testing"
)

// TestStartTwice: a second Start or Serve returns ErrStarted; Start or
// Serve after Shutdown returns ErrServerClosed, whether or not the server
// had started.
func TestStartTwice(t *testing.T) {
	_, rt := newApp()
	s, err := New(Config{Logger: quietLogger(), StatsInterval: -1}, rt)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("first Start: %v", err)
	}
	if err := s.Start(); err != ErrStarted {
		t.Errorf("second Start = %v; want ErrStarted", err)
	}
	if err := s.Serve(); err != ErrStarted {
		t.Errorf("Serve after Start = %v; want ErrStarted", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != ErrServerClosed {
		t.Errorf("Start after Shutdown = %v; want ErrServerClosed", err)
	}
	if err := s.Serve(); err != ErrServerClosed {
		t.Errorf("Serve after Shutdown = %v; want ErrServerClosed", err)
	}

	never, err := New(Config{Logger: quietLogger(), StatsInterval: -1}, rt)
	if err != nil {
		t.Fatal(err)
	}
	never.Shutdown(context.Background())
	if err := never.Start(); err != ErrServerClosed {
		t.Errorf("Start after Shutdown of an unstarted server = %v; want ErrServerClosed", err)
	}
}
