// Package testkit holds the helpers wharf's tests share: waiting for a
// condition, and a clock that moves only when told (for Config.Clock).
// Tests only: nothing in a program imports it. The leaf packages (buffer,
// timingwheel, logging, iplimit, endpoint, packet) keep their own small
// helpers, so that they stay leaves even in their tests.
package testkit

import (
	"sync"
	"testing"
	"time"
)

// Timeout is how long Eventually waits: generous, because the tests run on
// loaded machines; a condition that holds returns at once anyway.
const Timeout = 20 * time.Second

// Eventually polls cond until it holds, and fails the test if it does not
// within Timeout; what names the awaited event in the failure.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Clock is a settable clock for a Config.Clock field (Clock.Now). It is
// safe for concurrent use; the zero value is the zero time.
type Clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
