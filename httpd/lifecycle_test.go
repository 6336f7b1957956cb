package httpd

import (
	"net/http"
	"testing"

	"wharf/internal/lifecycletest"
)

// TestStartTwice: a second Start or Serve returns ErrStarted; Start or
// Serve after Shutdown returns ErrServerClosed.
func TestStartTwice(t *testing.T) {
	lifecycletest.Check(t, func() lifecycletest.Server {
		s, err := New(Config{Handler: http.NotFoundHandler(), Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, ErrStarted, ErrServerClosed)
}
