package websocket

import (
	"context"
	"errors"
	"testing"
	"time"
)

func dialClient(t testing.TB, s *testServer, opts *DialOptions) *ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "ws://"+s.addr+"/ws", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestClientEcho(t *testing.T) {
	for _, comp := range []bool{false, true} {
		forEachMode(t, func(t *testing.T, m mode) {
			h := newEcho()
			s := startWS(t, m, Config{Compression: true}, h)
			c := dialClient(t, s, &DialOptions{Compression: comp})
			if c.Compressed() != comp {
				t.Fatalf("compressed %v, want %v", c.Compressed(), comp)
			}
			for _, msg := range []string{"hi", repeat("compressible text ", 200), ""} {
				if err := c.WriteText(msg); err != nil {
					t.Fatal(err)
				}
				typ, data, err := c.ReadMessage()
				if err != nil || typ != MessageText || string(data) != msg {
					t.Fatalf("got %v %q %v, want %q", typ, trunc(data), err, trunc([]byte(msg)))
				}
			}
			if err := c.Close(StatusNormalClosure, "done"); err != nil {
				t.Fatal(err)
			}
			ce := h.waitClose(t)
			if ce.Code != StatusNormalClosure || !ce.Remote || ce.Reason != "done" {
				t.Fatalf("server saw %+v", ce)
			}
			if _, _, err := c.ReadMessage(); !errors.As(err, new(*CloseError)) {
				t.Fatalf("read after close: %v", err)
			}
		})
	}
}
