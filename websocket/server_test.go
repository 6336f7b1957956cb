package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"wharf/engine"
	"wharf/httpd"
)

func TestHandshake(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		request  string // the whole request head
		status   int
		protocol string // Sec-WebSocket-Protocol of a 101
		hdr      [2]string
	}{
		{name: "accepted", request: hs("GET", "1.1", ""), status: 101},
		{name: "POST", request: hs("POST", "1.1", "Content-Length: 0\r\n"), status: 405},
		{name: "HTTP/1.0", request: hs("GET", "1.0", ""), status: 400},
		{name: "version 8", request: strings.Replace(hs("GET", "1.1", ""), "Version: 13", "Version: 8", 1), status: 426, hdr: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "no key", request: strings.Replace(hs("GET", "1.1", ""), "Sec-WebSocket-Key", "X-Key", 1), status: 400},
		{name: "short key", request: strings.Replace(hs("GET", "1.1", ""), "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==", 1), status: 400},
		{name: "no Upgrade", request: strings.Replace(hs("GET", "1.1", ""), "Upgrade: websocket\r\n", "", 1), status: 400},
		{name: "Upgrade not websocket", request: strings.Replace(hs("GET", "1.1", ""), "Upgrade: websocket", "Upgrade: h2c", 1), status: 400},
		{name: "Connection list", request: strings.Replace(hs("GET", "1.1", ""), "Connection: Upgrade", "Connection: keep-alive, Upgrade", 1), status: 101},
		{name: "case-insensitive tokens", request: strings.Replace(strings.Replace(hs("GET", "1.1", ""), "Connection: Upgrade", "Connection: upgrade", 1), "Upgrade: websocket", "Upgrade: WebSocket", 1), status: 101},
		{name: "same origin", request: hs("GET", "1.1", "Origin: http://example.com:8080\r\n"), status: 101},
		{name: "cross origin", request: hs("GET", "1.1", "Origin: http://evil.example\r\n"), status: 403},
		{name: "null origin", request: hs("GET", "1.1", "Origin: null\r\n"), status: 403},
		{name: "allow-list, listed", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, request: hs("GET", "1.1", "Origin: https://APP.example\r\n"), status: 101},
		{name: "allow-list, host form", cfg: Config{AllowedOrigins: []string{"app.example"}}, request: hs("GET", "1.1", "Origin: https://app.example\r\n"), status: 101},
		{name: "allow-list, not listed", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, request: hs("GET", "1.1", "Origin: http://example.com:8080\r\n"), status: 403},
		{name: "allow-list star", cfg: Config{AllowedOrigins: []string{"*"}}, request: hs("GET", "1.1", "Origin: http://evil.example\r\n"), status: 101},
		{name: "CheckOrigin", cfg: Config{CheckOrigin: func(o, h string) bool { return strings.HasSuffix(o, ".trusted") }}, request: hs("GET", "1.1", "Origin: http://a.trusted\r\n"), status: 101},
		{name: "CheckOrigin refuses", cfg: Config{CheckOrigin: func(o, h string) bool { return false }}, request: hs("GET", "1.1", ""), status: 403},
		{name: "subprotocol: server preference wins", cfg: Config{Subprotocols: []string{"wharf.packet.v1", "chat"}},
			request: hs("GET", "1.1", "Sec-WebSocket-Protocol: chat, wharf.packet.v1\r\n"), status: 101, protocol: "wharf.packet.v1"},
		{name: "subprotocol over two lines", cfg: Config{Subprotocols: []string{"b"}},
			request: hs("GET", "1.1", "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\n"), status: 101, protocol: "b"},
		{name: "subprotocol: none matches", cfg: Config{Subprotocols: []string{"b"}},
			request: hs("GET", "1.1", "Sec-WebSocket-Protocol: a\r\n"), status: 101},
		{name: "subprotocol required", cfg: Config{Subprotocols: []string{"b"}, RequireSubprotocol: true},
			request: hs("GET", "1.1", "Sec-WebSocket-Protocol: a\r\n"), status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m mode) {
				s := startWS(t, m, tc.cfg, newEcho())
				nc, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				nc.Write([]byte(tc.request))
				resp, err := http.ReadResponse(bufioReader(nc), nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if tc.status == 101 {
					if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
						t.Fatalf("Sec-WebSocket-Accept %q", got) // the RFC's §1.3 example
					}
					if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.protocol {
						t.Fatalf("subprotocol %q, want %q", got, tc.protocol)
					}
				}
				if tc.hdr[0] != "" && resp.Header.Get(tc.hdr[0]) != tc.hdr[1] {
					t.Fatalf("%s: %q, want %q", tc.hdr[0], resp.Header.Get(tc.hdr[0]), tc.hdr[1])
				}
			})
		})
	}
}

// hs is an opening handshake for Host example.com:8080.
func hs(method, version, extra string) string {
	return method + " /ws HTTP/" + version + "\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{MaxMessageSize: -1},
		{MaxFrameSize: -1},
		{IdleTimeout: -1},
		{CloseTimeout: -1},
		{CompressionLevel: 10},
		{CompressionThreshold: -1},
		{Subprotocols: []string{"a b"}},
		{RequireSubprotocol: true},
		{AllowedOrigins: []string{""}},
	}
	for _, cfg := range bad {
		if _, err := NewServer(cfg, newEcho()); err == nil || !strings.HasPrefix(err.Error(), "websocket: Config.") {
			t.Errorf("%+v: %v, want an error naming the field", cfg, err)
		}
	}
	if _, err := NewServer(Config{}, nil); err == nil {
		t.Error("nil Handler accepted")
	}
}

// TestStandardLibraryServer: on the standard library's server, Upgrade
// serves the connection through Engine.ServeConn: echo, early frames,
// pings and the close handshake work the same.
func TestStandardLibraryServer(t *testing.T) {
	h := newEcho()
	ws, _ := NewServer(Config{}, h)
	addr := newHTTPTestServer(t, ws)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(append([]byte(hs("GET", "1.1", "")), frameBytes(true, 0, 1, []byte("early"), true)...))
	br := bufioReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v", err)
	}
	c := &rawClient{t: t, nc: nc, br: br}
	c.expect(1, []byte("early"))
	c.binary(payloadOf(70000))
	c.expect(2, payloadOf(70000))
	c.ping([]byte("p"))
	c.expect(10, []byte("p"))
	c.closeFrame(1000, "")
	c.expectClose(1000)
	if ce := h.waitClose(t); ce.Code != 1000 || !ce.Remote {
		t.Fatalf("OnClose %+v", ce)
	}
}

// TestEarlyFrames: frames a client sends right behind its handshake, in the
// same write, reach the new connection.
func TestEarlyFrames(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		s := startWS(t, m, Config{}, newEcho())
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(append([]byte(hs("GET", "1.1", "")), frameBytes(true, 0, 1, []byte("early"), true)...))
		br := bufioReader(nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("handshake: %v", err)
		}
		c := &rawClient{t: t, nc: nc, br: br}
		c.expect(1, []byte("early"))
	})
}

// TestSlowReader: a client that stops reading while the server keeps
// sending is closed once the engine's outbound limit is reached
// (abnormally: 1006 with engine.ErrOutboundFull), and the writer learns it.
func TestSlowReader(t *testing.T) {
	writerDone := make(chan error, 1)
	h := newEcho()
	wrapped := HandlerFuncs{
		Open: func(c *Conn) {
			go func() {
				msg := payloadOf(1024)
				for {
					if err := c.WriteBinary(msg); err != nil {
						writerDone <- err
						return
					}
				}
			}()
		},
		Close: h.OnClose,
	}
	s := startWS(t, modeNative, Config{}, wrapped, engine.Config{MaxOutbound: 256 << 10, SocketSendBuffer: 16 << 10})
	c := dialRaw(t, s.addr, "") // and never reads
	_ = c
	ce := h.waitClose(t)
	if ce.Code != StatusAbnormalClosure || !errors.Is(ce, engine.ErrOutboundFull) {
		t.Fatalf("OnClose: %v", ce)
	}
	select {
	case err := <-writerDone:
		if !errors.Is(err, engine.ErrOutboundFull) && err != ErrClosed {
			t.Fatalf("writer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not stop")
	}
	if st := s.ws.Stats(); st.Open != 0 || st.Abnormal != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestHalfClosedPeer: a client that sends half a fragmented message and
// then a TCP FIN, without a close frame, is closed abnormally (1006,
// io.EOF), and nothing of it stays.
func TestHalfClosedPeer(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		h := newEcho()
		s := startWS(t, m, Config{}, h)
		c := dialRaw(t, s.addr, "")
		c.write(frameBytes(false, 0, 2, payloadOf(100), true))          // a first fragment
		c.write(frameBytes(true, 0, 0, payloadOf(30000), true)[:10000]) // part of a large last fragment
		c.nc.(*net.TCPConn).CloseWrite()
		ce := h.waitClose(t)
		if ce.Code != StatusAbnormalClosure || ce.Remote || !errors.Is(ce, io.EOF) {
			t.Fatalf("OnClose: %+v", ce)
		}
		c.expectEOF() // the server closed its side too
		if st := s.ws.Stats(); st.Open != 0 || st.Abnormal != 1 || st.Closed != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestIdleTimeout: Config.IdleTimeout closes a silent connection.
func TestIdleTimeout(t *testing.T) {
	h := newEcho()
	s := startWS(t, modeNative, Config{IdleTimeout: 100 * time.Millisecond}, h)
	c := dialRaw(t, s.addr, "")
	ce := h.waitClose(t)
	if ce.Code != StatusAbnormalClosure || !errors.Is(ce, engine.ErrIdleTimeout) {
		t.Fatalf("OnClose: %+v", ce)
	}
	c.expectEOF()
}

// TestShutdownSaysGoingAway: a graceful httpd shutdown sends 1001.
func TestShutdownSaysGoingAway(t *testing.T) {
	for _, m := range httpdModes {
		t.Run(string(m), func(t *testing.T) { testShutdownSaysGoingAway(t, m) })
	}
}

func testShutdownSaysGoingAway(t *testing.T, m mode) {
	{
		h := newEcho()
		s := startWS(t, m, Config{}, h)
		c := dialRaw(t, s.addr, "")
		c.text("before")
		c.expect(1, []byte("before"))
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done <- s.http.Shutdown(ctx)
		}()
		c.expect(8, closeWith(1001, "server shutting down"))
		c.closeFrame(1001, "")
		c.expectEOF()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if ce := h.waitClose(t); ce.Code != StatusGoingAway {
			t.Fatalf("OnClose %+v", ce)
		}
	}
}

func TestStats(t *testing.T) {
	h := newEcho()
	s := startWS(t, modeNative, Config{}, h)
	c := dialRaw(t, s.addr, "")
	c.text("12345")
	c.expect(1, []byte("12345"))
	c.binary([]byte("123"))
	c.expect(2, []byte("123"))
	c.closeFrame(1000, "")
	c.expectClose(1000)
	h.waitClose(t)
	dialHandshake(t, s.addr, "Origin: http://elsewhere\r\n")
	want := Stats{Upgrades: 1, Refused: 1, Closed: 1, MessagesIn: 2, MessagesOut: 2, BytesIn: 8, BytesOut: 8}
	if got := s.ws.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// TestWriteFromGoroutines: WriteMessage from many goroutines at once; every
// message arrives whole (frames never interleave).
func TestWriteFromGoroutines(t *testing.T) {
	opened := make(chan *Conn, 1)
	h := HandlerFuncs{Open: func(c *Conn) { opened <- c }}
	s := startWS(t, modeNative, Config{}, h)
	c := dialRaw(t, s.addr, "")
	conn := <-opened
	const writers, each = 8, 200
	for w := range writers {
		go func() {
			for i := range each {
				conn.WriteBinary(append([]byte{byte(w)}, payloadOf(i*7)...))
			}
		}()
	}
	next := make([]int, writers)
	for range writers * each {
		f, err := c.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		w := int(f.payload[0])
		if string(f.payload[1:]) != string(payloadOf(next[w]*7)) {
			t.Fatalf("writer %d message %d corrupt or out of order", w, next[w])
		}
		next[w]++
	}
}

func TestWriteValidation(t *testing.T) {
	opened := make(chan *Conn, 1)
	s := startWS(t, modeNative, Config{}, HandlerFuncs{Open: func(c *Conn) { opened <- c }})
	dialRaw(t, s.addr, "")
	c := <-opened
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"text not UTF-8", c.WriteText("\xff"), ErrInvalidUTF8},
		{"bad type", c.WriteMessage(9, nil), ErrMessageType},
		{"long ping", c.Ping(payloadOf(126)), ErrControlTooLong},
		{"close 1005", c.Close(1005, ""), ErrInvalidCloseCode},
		{"close reason too long", c.Close(1000, repeat("x", 124)), ErrControlTooLong},
	} {
		if tc.err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

// TestUpgradeWrapped: Upgrade looks through ResponseWriter wrappers that
// implement Unwrap, as middleware does.
func TestUpgradeWrapped(t *testing.T) {
	ws, _ := NewServer(Config{}, newEcho())
	hs, err := httpd.New(httpd.Config{Logger: quiet(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.ServeHTTP(wrapper{w}, r)
	})})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := hs.Listen("tcp://127.0.0.1:0")
	hs.Start()
	defer hs.Close()
	c := dialRaw(t, a.String(), "")
	c.text("wrapped")
	c.expect(1, []byte("wrapped"))
}

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }
