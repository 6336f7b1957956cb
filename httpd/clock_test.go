package httpd

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.t.Store(&t)
	return c
}

func (c *fakeClock) Now() time.Time { return *c.t.Load() }

func (c *fakeClock) Advance(d time.Duration) {
	t := c.Now().Add(d)
	c.t.Store(&t)
}

// Every time httpd measures comes from Config.Clock: the Date header, and
// the deadlines the engine enforces with the same clock. With a clock
// set in 2001 a deadline computed with time.Now would lie 25 years ahead
// and never fire.
func TestInjectedClock(t *testing.T) {
	clk := newFakeClock(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Clock = clk.Now
		cfg.ReadHeaderTimeout = time.Hour
		cfg.IdleTimeout = 2 * time.Hour
		s, addr := startServer(t, cfg)

		c, br := rawConn(t, addr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, _ := readResponse(t, br, "GET")
		if got, want := resp.Header.Get("Date"), clk.Now().Format(http.TimeFormat); got != want {
			t.Fatalf("Date %q, want %q (from Config.Clock)", got, want)
		}

		// A head trickled for longer than ReadHeaderTimeout, by the clock.
		c2, br2 := rawConn(t, addr)
		c2.Write([]byte("GET / HTTP/1.1\r\n"))
		waitFor(t, "the partial head to arrive", func() bool { return s.Stats().Engine.BytesRead >= 43 })
		clk.Advance(90 * time.Minute)
		c2.Write([]byte("X-Slow: 1\r\n")) // wakes the loop, which reads the clock
		if _, err := br2.ReadByte(); err != io.EOF {
			t.Fatalf("trickled head after ReadHeaderTimeout (by the clock): %v, want EOF", err)
		}
		if s.Stats().Timeouts != 1 {
			t.Fatalf("Timeouts = %d, want 1", s.Stats().Timeouts)
		}
	})
}
