package websocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"wharf/engine"
	"wharf/httpd"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mode is how a test server serves its WebSocket endpoint.
type mode string

const (
	modeNative  mode = "native"  // httpd native API: ServeNative
	modeAdapter mode = "adapter" // a net/http handler on httpd: Upgrade
	modeStdlib  mode = "stdlib"  // the standard library's server: Upgrade hijacks, Engine.ServeConn serves
)

var modes = []mode{modeNative, modeAdapter, modeStdlib}

// httpdModes are the modes with an httpd server (graceful shutdown, Each).
var httpdModes = []mode{modeNative, modeAdapter}

// forEachMode runs f once per way of serving.
func forEachMode(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

// testServer is an httpd server with a WebSocket endpoint at /ws.
type testServer struct {
	ws   *Server
	http *httpd.Server
	addr string
}

// startWS serves h at /ws (and 404 elsewhere) on a loopback port until
// the test ends.
func startWS(t testing.TB, m mode, cfg Config, h Handler, ecfg ...engine.Config) *testServer {
	t.Helper()
	ws, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	hc := httpd.Config{Logger: quiet()}
	if len(ecfg) > 0 {
		hc.Engine = ecfg[0]
	}
	if hc.Engine.Loops == 0 {
		hc.Engine.Loops = 2
	}
	switch m {
	case modeNative:
		hc.Native = httpd.NativeFunc(func(rc *httpd.RequestCtx) {
			if string(rc.Path()) != "/ws" {
				rc.SetStatusCode(404)
				return
			}
			ws.ServeNative(rc)
		})
	case modeAdapter:
		mux := http.NewServeMux()
		mux.Handle("/ws", ws)
		hc.Handler = mux
	case modeStdlib:
		cfg.FallbackEngine = hc.Engine
		ws, err = NewServer(cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/ws", ws)
		return &testServer{ws: ws, addr: newHTTPTestServer(t, mux)}
	}
	hs, addr := serveHTTPD(t, hc)
	return &testServer{ws: ws, http: hs, addr: addr}
}

// echoHandler echoes every message from the loop and records closes.
type echoHandler struct {
	mu     sync.Mutex
	closes []*CloseError
	closed chan *CloseError
	opened chan *Conn
	async  bool // echo with WriteMessage instead of LoopWrite
}

func newEcho() *echoHandler {
	return &echoHandler{closed: make(chan *CloseError, 1000), opened: make(chan *Conn, 1000)}
}

func (h *echoHandler) OnOpen(c *Conn) { h.opened <- c }

func (h *echoHandler) OnMessage(c *Conn, typ MessageType, data []byte) {
	if h.async {
		c.WriteMessage(typ, data)
		return
	}
	c.LoopWrite(typ, data)
}

func (h *echoHandler) OnClose(c *Conn, err error) {
	var ce *CloseError
	if !errors.As(err, &ce) {
		panic(fmt.Sprintf("OnClose without a CloseError: %v", err))
	}
	h.closed <- ce
}

// waitClose waits for the server's OnClose.
func (h *echoHandler) waitClose(t testing.TB) *CloseError {
	t.Helper()
	select {
	case ce := <-h.closed:
		return ce
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose did not run")
		return nil
	}
}

// rawClient speaks the protocol by hand, so tests can send anything; its
// frame reader is written independently of the package's parser.
type rawClient struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// dialRaw connects and completes a handshake with extra header lines
// ("Name: value\r\n...").
func dialRaw(t testing.TB, addr, extra string) *rawClient {
	t.Helper()
	c := dialHandshake(t, addr, extra)
	if c.resp.StatusCode != 101 {
		t.Fatalf("handshake: status %d", c.resp.StatusCode)
	}
	return c
}

// dialHandshake connects and sends a handshake, returning whatever the
// server answered.
func dialHandshake(t testing.TB, addr, extra string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake response: %v", err)
	}
	return &rawClient{t: t, nc: nc, br: br, resp: resp}
}

type rawFrame struct {
	fin     bool
	rsv     byte // the three RSV bits, 0-7
	op      byte
	masked  bool
	payload []byte
}

// frameBytes encodes a frame as a client would (masked unless unmasked).
func frameBytes(fin bool, rsv, op byte, payload []byte, masked bool) []byte {
	b0 := op | rsv<<4
	if fin {
		b0 |= 0x80
	}
	var mb byte
	if masked {
		mb = 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, mb|byte(n))
	case n <= 0xffff:
		out = append(out, mb|126, byte(n>>8), byte(n))
	default:
		out = append(out, mb|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

func (c *rawClient) send(fin bool, rsv, op byte, payload []byte) {
	c.t.Helper()
	c.write(frameBytes(fin, rsv, op, payload, true))
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// text and binary send whole, masked messages.
func (c *rawClient) text(s string)   { c.t.Helper(); c.send(true, 0, 1, []byte(s)) }
func (c *rawClient) binary(p []byte) { c.t.Helper(); c.send(true, 0, 2, p) }
func (c *rawClient) ping(p []byte)   { c.t.Helper(); c.send(true, 0, 9, p) }
func (c *rawClient) closeFrame(code int, reason string) {
	c.t.Helper()
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	c.send(true, 0, 8, append(p, reason...))
}

// readFrame reads one server frame.
func (c *rawClient) readFrame() (rawFrame, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f rawFrame
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return f, err
	}
	f.fin, f.rsv, f.op = h[0]&0x80 != 0, (h[0]>>4)&7, h[0]&0x0f
	f.masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(c.br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// expect reads the next frame and checks its opcode and payload.
func (c *rawClient) expect(op byte, payload []byte) rawFrame {
	c.t.Helper()
	f, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("want opcode %d: %v", op, err)
	}
	if f.masked {
		c.t.Fatalf("server frame is masked")
	}
	if f.op != op || !f.fin || (payload != nil && string(f.payload) != string(payload)) {
		c.t.Fatalf("got frame op=%d fin=%v rsv=%d len=%d %q, want op=%d len=%d %q", f.op, f.fin, f.rsv, len(f.payload), trunc(f.payload), op, len(payload), trunc(payload))
	}
	return f
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// expectClose reads frames up to a close frame with code (0: an empty
// close frame), then expects the server to close the TCP connection.
func (c *rawClient) expectClose(code int) {
	c.t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("want close %d: %v", code, err)
		}
		if f.op != 8 {
			continue // echoes of what came before the bad frame
		}
		got := 0
		if len(f.payload) >= 2 {
			got = int(binary.BigEndian.Uint16(f.payload))
		}
		if got != code {
			c.t.Fatalf("close code %d (%q), want %d", got, f.payload, code)
		}
		break
	}
	c.expectEOF()
}

// expectEOF expects the server to close the TCP connection.
func (c *rawClient) expectEOF() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	n, err := c.br.Read(b[:])
	if n != 0 || err == nil || isTimeout(err) {
		c.t.Fatalf("want the server to close the connection, got n=%d err=%v", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func header(name, value string) string { return name + ": " + value + "\r\n" }

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// newHTTPTestServer serves h with the standard library's server and
// returns its address.
func newHTTPTestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// serveHTTPD starts an httpd server on a loopback port until the test
// ends.
func serveHTTPD(t testing.TB, hc httpd.Config) (*httpd.Server, string) {
	t.Helper()
	if hc.Logger == nil {
		hc.Logger = quiet()
	}
	hs, err := httpd.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := hs.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return hs, a.String()
}

func startHTTPD(t testing.TB, hc httpd.Config) string {
	_, addr := serveHTTPD(t, hc)
	return addr
}

// pageAndSocket serves the browser test page at / and ws at /ws.
func pageAndSocket(ws *Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, browserPage)
	})
	return mux
}
