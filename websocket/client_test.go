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

// TestClientKeepsServerWindow: with Config.ContextTakeover the server keeps
// its compression context and the client keeps the server's window.
func TestClientKeepsServerWindow(t *testing.T) {
	s := startWS(t, modeNative, Config{Compression: true, ContextTakeover: true}, newEcho())
	c := dialClient(t, s, &DialOptions{Compression: true})
	if c.r.window == nil {
		t.Fatal("the client does not keep the server's window")
	}
	msg := repeat("the same words again and again ", 40)
	for range 20 {
		c.WriteText(msg)
		if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo %q %v", trunc(got), err)
		}
	}
}

// TestPingPongHooks: Conn.Ping reaches the client, whose pong reaches
// PongHandler; a client ping reaches PingHandler after the automatic pong.
func TestPingPongHooks(t *testing.T) {
	h := &pingRecorder{pongs: make(chan string, 1), pings: make(chan string, 1), opened: make(chan *Conn, 1)}
	s := startWS(t, modeNative, Config{}, h)
	c := dialRaw(t, s.addr, "")
	conn := <-h.opened
	if err := conn.Ping([]byte("from server")); err != nil {
		t.Fatal(err)
	}
	c.expect(9, []byte("from server"))
	c.send(true, 0, 10, []byte("from server"))
	if got := <-h.pongs; got != "from server" {
		t.Fatalf("OnPong %q", got)
	}
	c.ping([]byte("from client"))
	c.expect(10, []byte("from client"))
	if got := <-h.pings; got != "from client" {
		t.Fatalf("OnPing %q", got)
	}
}

type pingRecorder struct {
	HandlerFuncs
	opened       chan *Conn
	pings, pongs chan string
}

func (h *pingRecorder) OnOpen(c *Conn)              { h.opened <- c }
func (h *pingRecorder) OnPing(c *Conn, data []byte) { h.pings <- string(data) }
func (h *pingRecorder) OnPong(c *Conn, data []byte) { h.pongs <- string(data) }

// TestCompressedOrder: with permessage-deflate, replies written on the
// loop keep their order whether they are compressed or not.
func TestCompressedOrder(t *testing.T) {
	big := repeat("compressible ", 100)
	s := startWS(t, modeNative, Config{Compression: true}, HandlerFuncs{
		Message: func(c *Conn, typ MessageType, data []byte) {
			c.LoopWrite(MessageText, []byte("1 small"))
			c.LoopWrite(MessageText, []byte("2 "+big))
			c.WriteText("3 small")
			c.LoopWrite(MessageText, []byte("4 small"))
		},
	})
	c := dialClient(t, s, &DialOptions{Compression: true})
	c.WriteText("go")
	for _, want := range []string{"1 small", "2 " + big, "3 small", "4 small"} {
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("got %q %v, want %q", trunc(got), err, trunc([]byte(want)))
		}
	}
}
