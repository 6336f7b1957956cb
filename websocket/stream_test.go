package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"wharf/client"
	"wharf/engine"
	"wharf/httpd"
	"wharf/packet"
	"wharf/server"
)

// The packet protocol over WebSocket, end to end: wharf's message server
// behind StreamHandler, and wharf's packet client dialing through
// ClientConn.NetConn. This is the binding the lead wires into wharfd.

const codeEcho = 100

func startPacketServer(t *testing.T, scfg server.Config, ecfg engine.Config) (*server.Server, *testServer) {
	t.Helper()
	rt := server.NewRouter()
	rt.HandleFunc(codeEcho, func(r *server.Request) { r.Reply(r.Body) })
	scfg.Logger = quiet()
	scfg.StatsInterval = -1
	if scfg.FloodCount == 0 {
		scfg.FloodCount = -1
	}
	srv, err := server.New(scfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ws := startStream(t, Config{Subprotocols: []string{"wharf.packet.v1"}, RequireSubprotocol: true}, srv.Handler(), ecfg)
	return srv, ws
}

// wsDialer makes the packet client dial ws://ADDR/ws.
func wsDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := Dial(ctx, "ws://"+addr+"/ws", &DialOptions{Subprotocols: []string{"wharf.packet.v1"}})
	if err != nil {
		return nil, err
	}
	return c.NetConn(), nil
}

func TestPacketsOverWebSocket(t *testing.T) {
	srv, ws := startPacketServer(t, server.Config{}, engine.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The client does not know ws:// yet: its Dialer speaks WebSocket.
	cl, err := client.Dial(ctx, ws.addr, client.Config{Dialer: wsDialer, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Pipelined requests from several goroutines: the client may put
	// several packets in one message, and so may the server (the replies
	// to requests that arrived together leave together).
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				body := payloadOf(g*100 + i)
				got, err := cl.Request(ctx, codeEcho, body)
				if err != nil || string(got) != string(body) {
					t.Errorf("request: %q %v", trunc(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := srv.Stats(); st.PacketsIn < 400 {
		t.Fatalf("server packets in %d, want 400", st.PacketsIn)
	}
	// The lead's Transport finds the stream views through the engine.
	n := 0
	ws.http.Engine().Each(func(ec engine.Conn) {
		if sc := StreamOf(ec); sc != nil && ConnOf(ec) != nil {
			n++
		}
	})
	if n != 1 {
		t.Fatalf("StreamOf found %d connections, want 1", n)
	}
	if st := ws.ws.Stats(); st.MessagesOut == 0 || st.MessagesOut > 400 || st.Open != 1 {
		t.Fatalf("websocket messages out %d, want 1 to 400 for 400 replies", st.MessagesOut)
	}
}

// TestStreamWholePacketsPerMessage checks the outbound rule with a raw
// client: replies come in binary messages of whole packets, in order, and
// packets split across messages are reassembled.
func TestStreamWholePacketsPerMessage(t *testing.T) {
	_, ws := startPacketServer(t, server.Config{}, engine.Config{})
	c := dialRaw(t, ws.addr, header("Sec-WebSocket-Protocol", "wharf.packet.v1"))
	p1, _ := packet.Encode(codeEcho, []byte("one"))
	p2, _ := packet.Encode(codeEcho, []byte("two"))
	both := append(append([]byte{}, p1...), p2...)
	c.binary(both[:5]) // a packet cut across three messages
	c.binary(both[5:13])
	c.binary(both[13:])
	var got []byte
	for len(got) < len(both) {
		f := c.expect(2, nil)
		for rest := f.payload; len(rest) > 0; {
			if len(rest) < packet.HeaderSize {
				t.Fatalf("message %q ends in part of a header", trunc(f.payload))
			}
			h := packet.ParseHeader(rest)
			if int(h.Length) < packet.HeaderSize || int(h.Length) > len(rest) {
				t.Fatalf("message %q does not hold whole packets", trunc(f.payload))
			}
			rest = rest[h.Length:]
		}
		got = append(got, f.payload...)
	}
	if string(got) != string(both) {
		t.Fatalf("replies %q, want %q", got, both)
	}
	c.text("not a packet")
	c.expectClose(1003)
}

// TestStreamKicks: the server's kicks close the WebSocket with 1008 and
// the reason; the server counts them as it does for TCP.
func TestStreamKicks(t *testing.T) {
	srv, ws := startPacketServer(t, server.Config{MaxPacket: 64}, engine.Config{})
	c := dialRaw(t, ws.addr, header("Sec-WebSocket-Protocol", "wharf.packet.v1"))
	big, _ := packet.Encode(codeEcho, payloadOf(1000))
	c.binary(big)
	c.expectClose(1008)
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Kicks[server.KickFraming] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no framing kick counted: %+v", srv.Stats().Kicks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamNeedsSubprotocol: the packet endpoint refuses clients that do
// not speak wharf.packet.v1.
func TestStreamNeedsSubprotocol(t *testing.T) {
	_, ws := startPacketServer(t, server.Config{}, engine.Config{})
	if c := dialHandshake(t, ws.addr, ""); c.resp.StatusCode != 400 {
		t.Fatalf("status %d", c.resp.StatusCode)
	}
}

// streamRecorder is an engine.Handler that records the stream view.
type streamRecorder struct {
	engine.BaseHandler
	closed chan error
	data   chan []byte
}

func (r *streamRecorder) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	r.data <- append([]byte(nil), p...)
	return nil
}

func (r *streamRecorder) OnClose(c engine.Conn, err error) { r.closed <- err }

// TestStreamCloseReasons: what the engine.Handler's OnClose gets.
func TestStreamCloseReasons(t *testing.T) {
	cases := []struct {
		name string
		end  func(c *rawClient)
		want func(error) bool
	}{
		{"peer closes cleanly", func(c *rawClient) { c.closeFrame(1000, "") }, func(err error) bool { return err == io.EOF }},
		{"TCP FIN", func(c *rawClient) { c.nc.(*net.TCPConn).CloseWrite() }, func(err error) bool { return err == io.EOF }},
		{"protocol error", func(c *rawClient) { c.send(true, 0, 3, nil) }, func(err error) bool {
			var ce *CloseError
			return errors.As(err, &ce) && ce.Code == StatusProtocolError
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &streamRecorder{closed: make(chan error, 1), data: make(chan []byte, 10)}
			s := startStream(t, Config{}, rec, engine.Config{})
			c := dialRaw(t, s.addr, "")
			c.binary([]byte("x"))
			if got := <-rec.data; string(got) != "x" {
				t.Fatalf("data %q", got)
			}
			tc.end(c)
			select {
			case err := <-rec.closed:
				if !tc.want(err) {
					t.Fatalf("OnClose(%v)", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose")
			}
		})
	}
}

// startStream serves h as a stream Server at /ws on httpd's native API.
func startStream(t *testing.T, cfg Config, h engine.Handler, ecfg engine.Config) *testServer {
	t.Helper()
	ws, err := NewStreamServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	if ecfg.Loops == 0 {
		ecfg.Loops = 2
	}
	hs, addr := serveHTTPD(t, httpd.Config{Native: ws, Engine: ecfg})
	return &testServer{ws: ws, http: hs, addr: addr}
}

// streamEcho echoes the stream, one message per Write.
type streamEcho struct{ engine.BaseHandler }

func (streamEcho) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

// TestStreamCompressedAndShutdown: a stream over permessage-deflate echoes
// large and small writes, and an httpd shutdown says 1001.
func TestStreamCompressedAndShutdown(t *testing.T) {
	s := startStream(t, Config{Compression: true}, streamEcho{}, engine.Config{})
	c := dialClient(t, s, &DialOptions{Compression: true})
	for _, msg := range [][]byte{[]byte("small"), []byte(repeat("large and compressible ", 500))} {
		c.WriteBinary(msg)
		typ, got, err := c.ReadMessage()
		if err != nil || typ != MessageBinary || string(got) != string(msg) {
			t.Fatalf("echo: %v %q %v", typ, trunc(got), err)
		}
	}
	if st := s.ws.Stats(); st.MessagesIn != 2 || st.MessagesOut != 2 {
		t.Fatalf("stats %+v", st)
	}
	go s.http.Shutdown(context.Background())
	_, _, err := c.ReadMessage()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusGoingAway || !ce.Remote {
		t.Fatalf("after shutdown: %v", err)
	}
}
