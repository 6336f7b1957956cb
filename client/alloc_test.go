package client

import (
	"context"
	"testing"
	"time"
)

// TestAllocs guards the allocation budget of the request path, against an
// echo server that allocates nothing itself (the counts are process-wide).
func TestAllocs(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("allocation counts are meaningless under -race and -cover")
	}
	addr := fakeServer(t, echoConn)
	c := dial(t, addr, Config{})
	body := make([]byte, 64)
	deadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	buf := make([]byte, 0, 64) // the caller's reused reply buffer
	tests := []struct {
		name string
		max  float64
		run  func() error
	}{
		{name: "AppendReply, ctx without deadline", max: 0, run: func() error {
			_, err := c.AppendReply(context.Background(), buf, codeEcho, body)
			return err
		}},
		{name: "AppendReply, ctx with deadline", max: 0, run: func() error {
			_, err := c.AppendReply(deadline, buf, codeEcho, body)
			return err
		}},
		{name: "Request (the reply is a new slice)", max: 1, run: func() error {
			_, err := c.Request(context.Background(), codeEcho, body)
			return err
		}},
		{name: "Ping", max: 0, run: func() error {
			_, err := c.Ping(context.Background())
			return err
		}},
		// Send does not wait, so a tight loop of Sends piles up waiters
		// and output; each is paired with a request here, as in a steady
		// state.
		{name: "Send and AppendReply", max: 0, run: func() error {
			if err := c.Send(codeEcho, body); err != nil {
				return err
			}
			_, err := c.AppendReply(deadline, buf, codeEcho, body)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			tt.run() // warm the pools and buffers
			allocs := testing.AllocsPerRun(1000, func() {
				if e := tt.run(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs > tt.max {
				t.Fatalf("%.2f allocations per call, budget %v", allocs, tt.max)
			}
		})
	}
}
