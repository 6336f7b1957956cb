package engine

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// kinds are the backends every conformance test runs on.
var kinds = []Kind{Reactor, Goroutine}

func forEachKind(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
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
func start(t *testing.T, cfg Config, h Handler) (*Engine, string) {
	t.Helper()
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	e, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-e.Done()
	})
	return e, a.String()
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

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
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}
