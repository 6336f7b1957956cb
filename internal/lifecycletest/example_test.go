package lifecycletest_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"wharf/internal/lifecycletest"
)

var (
	errStarted = errors.New("toy: already started")
	errClosed  = errors.New("toy: closed")
)

// toy follows the convention.
type toy struct {
	mu               sync.Mutex
	started, stopped bool
}

func (s *toy) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return errClosed
	case s.started:
		return errStarted
	}
	s.started = true
	return nil
}

func (s *toy) Serve() error {
	if err := s.Start(); err != nil {
		return err
	}
	return errClosed // a real Serve blocks until Shutdown
}

func (s *toy) Shutdown(context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return nil
}

func TestToy(t *testing.T) {
	lifecycletest.Check(t, func() lifecycletest.Server { return &toy{} }, errStarted, errClosed)
}

// A package's test of the convention is one call, with the package's
// constructor and errors.
func ExampleCheck() {
	var t *testing.T // the test's *testing.T
	lifecycletest.Check(t, func() lifecycletest.Server { return &toy{} }, errStarted, errClosed)
}
