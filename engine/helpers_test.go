package engine

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
	"wharf/internal/testkit"
)

// served is the conformance suite's pseudo-backend for Engine.ServeConn,
// the entry point of KCP and the other transports: a reactor engine whose
// connections are accepted by a net.Listener outside it and handed to
// ServeConn. start and listen translate it.
const served Kind = 255

// kinds are the backends every conformance test runs on.
var kinds = []Kind{Reactor, Uring, Goroutine, served}

func kindName(k Kind) string {
	if k == served {
		return "served"
	}
	return k.String()
}

func forEachKind(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range kinds {
		t.Run(kindName(k), func(t *testing.T) { f(t, k) })
	}
}

// forEachBackend is forEachKind without the served pseudo-backend, for
// tests of what a backend does with its own listeners.
func forEachBackend(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range kinds {
		if k != served {
			t.Run(kindName(k), func(t *testing.T) { f(t, k) })
		}
	}
}

// newEngine is New for a conformance kind: served becomes a reactor engine,
// and listen then serves its connections through ServeConn.
func newEngine(t testing.TB, cfg Config, h Handler) *Engine {
	t.Helper()
	isServed := cfg.Kind == served
	if isServed {
		cfg.Kind = Reactor
	}
	e, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	if isServed {
		servedEngines.Store(e, true)
	}
	return e
}

var servedEngines sync.Map // *Engine -> true: made by newEngine for the served kind

// listen is Engine.Listen, or for the served kind a net.Listener whose
// connections go to ServeConn (closed when the test ends).
func listen(t testing.TB, e *Engine, addr string) net.Addr {
	t.Helper()
	if _, ok := servedEngines.Load(e); !ok {
		a, err := e.Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, err := listenSchemes.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen(a.Network(), a.Address())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { <-e.Done(); ln.Close() }() // the transport stops with its engine
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			// A test may start the engine (Serve) after connecting.
			for {
				e.mu.Lock()
				started := e.started
				e.mu.Unlock()
				if started {
					break
				}
				time.Sleep(time.Millisecond)
			}
			e.ServeConn(nc, ConnOptions{})
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr()
}

// th is a test handler whose callbacks are set per test. It implements every
// optional interface; nil hooks do the default.
type th struct {
	open      func(c Conn)
	data      func(c Conn) error
	close     func(c Conn, err error)
	watermark func(c Conn, high bool)
	tick      func(loop int, now time.Time)

	mu     sync.Mutex
	closes map[uint64]error // by conn id
	closed chan closeEvent
}

type closeEvent struct {
	id  uint64
	err error
}

func newTH() *th {
	return &th{closes: map[uint64]error{}, closed: make(chan closeEvent, 100000)}
}

func (h *th) OnOpen(c Conn) {
	if h.open != nil {
		h.open(c)
	}
}

func (h *th) OnData(c Conn) error {
	if h.data != nil {
		return h.data(c)
	}
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

func (h *th) OnClose(c Conn, err error) {
	h.mu.Lock()
	h.closes[c.ID()] = err
	h.mu.Unlock()
	if h.close != nil {
		h.close(c, err)
	}
	h.closed <- closeEvent{c.ID(), err}
}

func (h *th) OnWatermark(c Conn, high bool) {
	if h.watermark != nil {
		h.watermark(c, high)
	}
}

func (h *th) OnTick(loop int, now time.Time) {
	if h.tick != nil {
		h.tick(loop, now)
	}
}

// waitClose waits for the next OnClose.
func (h *th) waitClose(t *testing.T) closeEvent {
	t.Helper()
	select {
	case ev := <-h.closed:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for OnClose")
	}
	return closeEvent{}
}

// start runs an engine with h on a loopback port and shuts it down when the
// test ends.
func start(t testing.TB, cfg Config, h Handler) (*Engine, string) {
	t.Helper()
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	e := newEngine(t, cfg, h)
	a := listen(t, e, "tcp://127.0.0.1:0")
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	shutdownAtEnd(t, e)
	return e, a.String()
}

// startConn is start with one client connected: it returns the engine, the
// client's side and the engine's Conn for it. It sets h.open.
func startConn(t testing.TB, cfg Config, h *th) (*Engine, *net.TCPConn, Conn) {
	t.Helper()
	connCh := make(chan Conn, 1)
	h.open = func(c Conn) { connCh <- c }
	e, addr := start(t, cfg, h)
	nc := dial(t, addr)
	return e, nc, <-connCh
}

// shutdownAtEnd shuts e down when the test ends, and fails the test if that
// takes more than 10s.
func shutdownAtEnd(t testing.TB, e *Engine) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-e.Done()
	})
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

var eventually = testkit.Eventually

func readFull(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	p := make([]byte, n)
	if _, err := io.ReadFull(c, p); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return p
}

// expectEOF asserts the peer closes the connection (EOF or reset).
func expectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var p [64]byte
	for {
		_, err := c.Read(p[:])
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open, want it closed by the server")
		}
		return
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} { // Linux, then macOS and the BSDs
		if ents, err := os.ReadDir(dir); err == nil {
			return len(ents)
		}
	}
	t.Skip("no /proc/self/fd or /dev/fd to count open descriptors")
	return 0
}

// tempFile returns a file holding content, open for reading until the test
// ends.
func tempFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	path := t.TempDir() + "/f"
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
