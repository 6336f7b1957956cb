package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// Interoperability with independent client implementations: gorilla's
// and coder's. Each echoes text and binary, whole and fragmented,
// compressed and not, then closes with a code of its choice.

// interopMessages are the messages every client sends and expects back.
var interopMessages = []struct {
	text bool
	data []byte
}{
	{true, []byte("hello")},
	{false, []byte{0, 1, 2, 0xff}},
	{true, []byte("")},
	{true, []byte(strings.Repeat("κόσμε wharf ", 3000))}, // 39 KB, compressible
	{false, bytes.Repeat([]byte{7, 8, 9}, 100000)},       // 300 KB
}

func TestInteropGorilla(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, async := range []bool{false, true} {
			name := map[bool]string{false: "plain", true: "deflate"}[compress] + map[bool]string{false: "/loop", true: "/async"}[async]
			t.Run(name, func(t *testing.T) {
				forEachMode(t, func(t *testing.T, m mode) {
					h := newEcho()
					h.async = async
					s := startWS(t, m, Config{Compression: true}, h)
					d := gorilla.Dialer{EnableCompression: compress, HandshakeTimeout: 5 * time.Second, WriteBufferSize: 1024}
					c, resp, err := d.Dial("ws://"+s.addr+"/ws", nil)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
						t.Fatalf("deflate negotiated %v, want %v", got, compress)
					}
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					for _, msg := range interopMessages {
						typ := gorilla.BinaryMessage
						if msg.text {
							typ = gorilla.TextMessage
						}
						// WriteBufferSize 1024: large messages go out fragmented.
						if err := c.WriteMessage(typ, msg.data); err != nil {
							t.Fatal(err)
						}
						gt, got, err := c.ReadMessage()
						if err != nil || gt != typ || !bytes.Equal(got, msg.data) {
							t.Fatalf("echo: type %d, %d bytes, %v; want type %d, %d bytes", gt, len(got), err, typ, len(msg.data))
						}
					}
					// Pings from the client are answered.
					pong := make(chan string, 1)
					c.SetPongHandler(func(s string) error { pong <- s; return nil })
					c.WriteControl(gorilla.PingMessage, []byte("gorilla"), time.Now().Add(time.Second))
					c.WriteMessage(gorilla.TextMessage, []byte("after ping"))
					if _, got, err := c.ReadMessage(); err != nil || string(got) != "after ping" {
						t.Fatalf("after ping: %q %v", got, err)
					}
					if p := <-pong; p != "gorilla" {
						t.Fatalf("pong %q", p)
					}
					// Close with a custom code: the server echoes it.
					c.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
					_, _, err = c.ReadMessage()
					var ce *gorilla.CloseError
					if !errors.As(err, &ce) || ce.Code != 4001 {
						t.Fatalf("close: %v", err)
					}
					if got := h.waitClose(t); got.Code != 4001 || !got.Remote || got.Reason != "bye" {
						t.Fatalf("server OnClose %+v", got)
					}
				})
			})
		}
	}
}

func TestInteropCoder(t *testing.T) {
	modesC := []struct {
		name string
		mode coder.CompressionMode
		cfg  Config
	}{
		{"plain", coder.CompressionDisabled, Config{Compression: true}},
		{"deflate no takeover", coder.CompressionNoContextTakeover, Config{Compression: true}},
		{"deflate takeover", coder.CompressionContextTakeover, Config{Compression: true, ContextTakeover: true}},
		{"client takeover, server refuses", coder.CompressionContextTakeover, Config{Compression: true}},
	}
	for _, mc := range modesC {
		t.Run(mc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m mode) {
				h := newEcho()
				s := startWS(t, m, mc.cfg, h)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, _, err := coder.Dial(ctx, "ws://"+s.addr+"/ws", &coder.DialOptions{CompressionMode: mc.mode, CompressionThreshold: 64})
				if err != nil {
					t.Fatal(err)
				}
				defer c.CloseNow()
				c.SetReadLimit(1 << 20)
				for round := range 3 { // repeated: context takeover carries over
					for _, msg := range interopMessages {
						typ := coder.MessageBinary
						if msg.text {
							typ = coder.MessageText
						}
						if round == 1 {
							// Fragmented: each Write of coder's Writer is a frame.
							w, err := c.Writer(ctx, typ)
							if err != nil {
								t.Fatal(err)
							}
							for p := msg.data; len(p) > 0; p = p[min(len(p), 5000):] {
								w.Write(p[:min(len(p), 5000)])
							}
							if err := w.Close(); err != nil {
								t.Fatal(err)
							}
						} else if err := c.Write(ctx, typ, msg.data); err != nil {
							t.Fatal(err)
						}
						gt, got, err := c.Read(ctx)
						if err != nil || gt != typ || !bytes.Equal(got, msg.data) {
							t.Fatalf("round %d echo: type %v, %d bytes, %v; want %v, %d bytes", round, gt, len(got), err, typ, len(msg.data))
						}
					}
				}
				// coder's Ping waits for the pong, which needs a reader.
				go func() {
					for {
						if _, _, err := c.Read(ctx); err != nil {
							return
						}
					}
				}()
				if err := c.Ping(ctx); err != nil {
					t.Fatalf("ping: %v", err)
				}
				if err := c.Close(coder.StatusCode(4002), "coder done"); err != nil {
					t.Fatalf("close handshake: %v", err)
				}
				if got := h.waitClose(t); got.Code != 4002 || !got.Remote || got.Reason != "coder done" {
					t.Fatalf("server OnClose %+v", got)
				}
			})
		})
	}
}

// TestInteropGorillaServer runs this package's client against gorilla's
// server, compressed and not.
func TestInteropGorillaServer(t *testing.T) {
	up := gorilla.Upgrader{EnableCompression: true, WriteBufferSize: 1024}
	srv := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		// Streamed through gorilla's reader and writer: the echo goes out
		// in frames of gorilla's write buffer.
		for {
			typ, r, err := c.NextReader()
			if err != nil {
				return
			}
			w, err := c.NextWriter(typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(w, r); err != nil || w.Close() != nil {
				return
			}
		}
	}))
	for _, compress := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := Dial(ctx, "ws://"+srv+"/", &DialOptions{Compression: compress})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if c.Compressed() != compress {
			t.Fatalf("compressed %v", c.Compressed())
		}
		for _, msg := range interopMessages {
			typ := MessageBinary
			if msg.text {
				typ = MessageText
			}
			if err := c.WriteMessage(typ, msg.data); err != nil {
				t.Fatal(err)
			}
			gt, got, err := c.ReadMessage()
			if err != nil || gt != typ || !bytes.Equal(got, msg.data) {
				t.Fatalf("echo: %v %d bytes %v", gt, len(got), err)
			}
		}
		if err := c.Close(StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	}
}
