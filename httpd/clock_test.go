package httpd

import (
	"io"
	"net/http"
	"testing"
	"time"
	"wharf/internal/testkit"
)

// Every time httpd measures comes from Config.Clock: the Date header, and
// the deadlines the engine enforces with the same clock. With a clock
// set in 2001 a deadline computed with time.Now would lie 25 years ahead
// and never fire.
func TestInjectedClock(t *testing.T) {
	clk := testkit.NewClock(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
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
		clk.Add(90 * time.Minute)
		c2.Write([]byte("X-Slow: 1\r\n")) // wakes the loop, which reads the clock
		if _, err := br2.ReadByte(); err != io.EOF {
			t.Fatalf("trickled head after ReadHeaderTimeout (by the clock): %v, want EOF", err)
		}
		if s.Stats().Timeouts != 1 {
			t.Fatalf("Timeouts = %d, want 1", s.Stats().Timeouts)
		}
	})
}
