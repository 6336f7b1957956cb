package engine

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestCallbackPanics panics once in each kind of callback and checks what a
// user relies on: the panic is counted, the engine keeps serving, and a
// panic in a callback that serves an open connection closes that connection
// with a *PanicError, while one in OnClose, a WriteDone or OnTick closes
// nothing.
func TestCallbackPanics(t *testing.T) {
	cases := []struct {
		name      string
		cfg       Config
		setup     func(h *th, fired *atomic.Int32)
		hello     int  // bytes every connection receives on open
		peerClose bool // the panic needs the peer to close
		wantClose bool // the connection is closed with a *PanicError
	}{
		{
			name: "OnOpen",
			setup: func(h *th, fired *atomic.Int32) {
				h.open = func(Conn) {
					if fired.Add(1) == 1 {
						panic("boom")
					}
				}
			},
			wantClose: true,
		},
		{
			name: "Run",
			setup: func(h *th, fired *atomic.Int32) {
				h.open = func(c Conn) {
					c.Run(func(Conn) {
						if fired.Add(1) == 1 {
							panic("boom")
						}
					})
				}
			},
			wantClose: true,
		},
		{
			name: "AfterFunc",
			setup: func(h *th, fired *atomic.Int32) {
				h.open = func(c Conn) {
					c.AfterFunc(time.Millisecond, func(Conn) {
						if fired.Add(1) == 1 {
							panic("boom")
						}
					})
				}
			},
			wantClose: true,
		},
		{
			name:  "WriteDone",
			hello: 2,
			setup: func(h *th, fired *atomic.Int32) {
				h.open = func(c Conn) {
					c.AsyncWrite([]byte("hi"), func(Conn, error) {
						if fired.Add(1) == 1 {
							panic("boom")
						}
					})
				}
			},
		},
		{
			name: "OnTick",
			cfg:  Config{TickInterval: 5 * time.Millisecond},
			setup: func(h *th, fired *atomic.Int32) {
				h.tick = func(int, time.Time) {
					if fired.Add(1) == 1 {
						panic("boom")
					}
				}
			},
		},
		{
			name:      "OnClose",
			peerClose: true,
			setup: func(h *th, fired *atomic.Int32) {
				h.close = func(Conn, error) {
					if fired.Add(1) == 1 {
						panic("boom")
					}
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachKind(t, func(t *testing.T, k Kind) {
				var fired atomic.Int32
				h := newTH()
				tc.setup(h, &fired)
				cfg := tc.cfg
				cfg.Kind, cfg.Loops, cfg.Logger = k, 1, discardLogger()
				e, addr := start(t, cfg, h)
				c1 := dial(t, addr)
				if tc.peerClose {
					c1.Close()
				}
				eventually(t, "the panic", func() bool { return e.Stats().Panics == 1 })
				if tc.wantClose {
					ev := h.waitClose(t)
					var pe *PanicError
					if !errors.As(ev.err, &pe) || pe.Value != "boom" {
						t.Fatalf("OnClose err = %v, want *PanicError boom", ev.err)
					}
					expectEOF(t, c1)
				} else if !tc.peerClose {
					// The connection survived the panic and still echoes.
					readFull(t, c1, tc.hello)
					c1.Write([]byte("ping"))
					if got := string(readFull(t, c1, 4)); got != "ping" {
						t.Fatalf("echo after panic = %q", got)
					}
				}
				// The engine still serves new connections.
				c2 := dial(t, addr)
				readFull(t, c2, tc.hello)
				c2.Write([]byte("pong"))
				if got := string(readFull(t, c2, 4)); got != "pong" {
					t.Fatalf("echo on a new connection = %q", got)
				}
				if tc.peerClose {
					c2.Close()
				}
				// Every callback runs again after its panic.
				eventually(t, "the callback after the panic", func() bool { return fired.Load() >= 2 })
				if n := e.Stats().Panics; n != 1 {
					t.Fatalf("Stats.Panics = %d, want 1", n)
				}
			})
		})
	}
}
