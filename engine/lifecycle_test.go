package engine

import (
	"context"
	"errors"
	"testing"

	"wharf/endpoint"
	"wharf/internal/lifecycletest"
)

// TestStartTwice holds the engine to the convention every wharf server
// follows: a second Start or Serve returns ErrStarted, and Start or Serve
// after Shutdown returns ErrEngineClosed.
func TestStartTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k Kind) {
		lifecycletest.Check(t, func() lifecycletest.Server {
			e, err := New(Config{Kind: k, Loops: 1}, newTH())
			if err != nil {
				t.Fatal(err)
			}
			return e
		}, ErrStarted, ErrEngineClosed)
	})
}

// TestListenAddresses checks that Listen reads package endpoint's syntax
// with tcp implied, and refuses what the engine cannot serve with an error
// naming the address.
func TestListenAddresses(t *testing.T) {
	e, err := New(Config{Kind: Goroutine}, newTH())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for _, addr := range []string{"127.0.0.1:0", "tcp://127.0.0.1:0", "tcp4://127.0.0.1:0"} {
		a, err := e.Listen(addr)
		if err != nil || a.Network() != "tcp" {
			t.Errorf("Listen(%q) = %v, %v; want a TCP listener", addr, a, err)
		}
	}
	for _, addr := range []string{"", "udp://127.0.0.1:0", "tls://127.0.0.1:0", "tcp://127.0.0.1", "tcp://:99999", "unix://"} {
		_, err := e.Listen(addr)
		var ae *endpoint.Error
		if !errors.As(err, &ae) || ae.Input != addr {
			t.Errorf("Listen(%q) = %v; want an *endpoint.Error naming it", addr, err)
		}
	}
}
