package httpd

import (
	"context"
	"net/http"
	"testing"
)

// TestStartTwice: a second Start or Serve returns ErrStarted; Start or
// Serve after Shutdown returns ErrServerClosed.
func TestStartTwice(t *testing.T) {
	s, err := New(Config{Handler: http.NotFoundHandler(), Logger: quiet()})
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
}
