package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pipeEngine starts an engine without a listener, for ServeConn.
func pipeEngine(t *testing.T, cfg Config, h Handler) *Engine {
	t.Helper()
	e := newEngine(t, cfg, h)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	shutdownAtEnd(t, e)
	return e
}

func TestServeConnRefusals(t *testing.T) {
	h := newTH()
	e := newEngine(t, Config{Kind: Reactor, Loops: 1, MaxConns: 1}, h)
	a, b := net.Pipe()
	if _, err := e.ServeConn(a, ConnOptions{}); err != ErrNotStarted {
		t.Fatalf("ServeConn before Start = %v, want ErrNotStarted", err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("the refused net.Conn was not closed")
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	a, b = net.Pipe()
	defer b.Close()
	if _, err := e.ServeConn(a, ConnOptions{}); err != nil {
		t.Fatal(err)
	}
	a2, b2 := net.Pipe()
	if _, err := e.ServeConn(a2, ConnOptions{}); err != ErrTooManyConns {
		t.Fatalf("ServeConn over MaxConns = %v, want ErrTooManyConns", err)
	}
	if _, err := b2.Write([]byte("x")); err == nil {
		t.Fatal("the net.Conn refused by MaxConns was not closed")
	}
	if st := e.Stats(); st.Rejected != 1 || st.Accepted != 1 || st.Open != 1 {
		t.Fatalf("Stats: rejected %d accepted %d open %d, want 1 1 1", st.Rejected, st.Accepted, st.Open)
	}
	e.StopAccepting()
	a3, _ := net.Pipe()
	if _, err := e.ServeConn(a3, ConnOptions{}); err != ErrEngineClosed {
		t.Fatalf("ServeConn after StopAccepting = %v, want ErrEngineClosed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := h.waitClose(t); ev.err != ErrEngineClosed {
		t.Fatalf("OnClose after Shutdown = %v, want ErrEngineClosed", ev.err)
	}
}

// recordingConn is a net.Conn end whose writes are recorded: the largest
// single write, and an optional gate that holds writes back.
type recordingConn struct {
	net.Conn
	mu       sync.Mutex
	maxWrite int
	hold     chan struct{} // writes wait for it to close, when not nil
	readErr  error         // returned by Read once set
	closed   atomic.Bool
	onClose  func() // called on the first Close, when not nil
}

func (c *recordingConn) Write(p []byte) (int, error) {
	if c.hold != nil {
		<-c.hold
	}
	c.mu.Lock()
	c.maxWrite = max(c.maxWrite, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.readErr
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *recordingConn) Close() error {
	if !c.closed.Swap(true) && c.onClose != nil {
		c.onClose()
	}
	return c.Conn.Close()
}

func TestServeConnMaxWrite(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		const total = 100 << 10
		h := newTH()
		h.data = func(c Conn) error {
			c.Discard(-1)
			_, err := c.Write(bytes.Repeat([]byte{'m'}, total))
			return err
		}
		e := pipeEngine(t, Config{Kind: k}, h)
		a, b := net.Pipe()
		defer b.Close()
		rc := &recordingConn{Conn: a}
		if _, err := e.ServeConn(rc, ConnOptions{MaxWrite: 1000}); err != nil {
			t.Fatal(err)
		}
		go b.Write([]byte("go"))
		got := readFull(t, b, total)
		if bytes.Count(got, []byte{'m'}) != total {
			t.Fatal("data corrupted")
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.maxWrite > 1000 {
			t.Fatalf("a single Write got %d bytes, MaxWrite is 1000", rc.maxWrite)
		}
	})
}

func TestServeConnReadError(t *testing.T) {
	errReaped := errors.New("reaped by the transport")
	h := newTH()
	e := pipeEngine(t, Config{Kind: Goroutine}, h)
	a, b := net.Pipe()
	rc := &recordingConn{Conn: a}
	_, err := e.ServeConn(rc, ConnOptions{ReadError: func(err error) error {
		if errors.Is(err, io.ErrClosedPipe) {
			return errReaped
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	a.Close() // the transport closes it under the engine
	b.Close()
	if ev := h.waitClose(t); ev.err != errReaped {
		t.Fatalf("OnClose err = %v, want the error ReadError mapped", ev.err)
	}
	if e.Stats().ClosedBy[ReasonHandler] != 1 {
		t.Fatalf("ClosedBy = %v, want one close counted as handler", e.Stats().ClosedBy)
	}
}

// TestServeConnLingerOrder checks the graceful close of a foreign
// connection: the backlog is written, then Linger runs with the byte count,
// then BeforeClose, then the net.Conn is closed, then OnClose.
func TestServeConnLingerOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	note := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	h := newTH()
	h.close = func(Conn, error) { note("OnClose") }
	e := pipeEngine(t, Config{Kind: Goroutine}, h)
	a, b := net.Pipe()
	rc := &recordingConn{Conn: a, onClose: func() { note("close") }}
	var lingered atomic.Uint64
	c, err := e.ServeConn(rc, ConnOptions{
		Linger: func(written uint64, d Deadline) {
			lingered.Store(written)
			note("linger")
		},
		BeforeClose: func() { note("before") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AsyncWrite([]byte("goodbye"), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := string(readFull(t, b, 7)); got != "goodbye" {
		t.Fatalf("read %q, want the backlog before the close", got)
	}
	h.waitClose(t)
	if lingered.Load() != 7 {
		t.Fatalf("Linger got written = %d, want 7", lingered.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"linger", "before", "close", "OnClose"}
	if len(events) != len(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %v, want %v", events, want)
		}
	}
}

// TestServeConnAsyncFlush: with AsyncFlush, a Write that blocks does not
// stop the connection from reading.
func TestServeConnAsyncFlush(t *testing.T) {
	reads := make(chan string, 10)
	h := newTH()
	h.data = func(c Conn) error {
		p, _ := c.Next(-1)
		reads <- string(p)
		c.Write([]byte("reply"))
		return nil
	}
	e := pipeEngine(t, Config{Kind: Goroutine}, h)
	a, b := net.Pipe()
	defer b.Close()
	hold := make(chan struct{})
	if _, err := e.ServeConn(&recordingConn{Conn: a, hold: hold}, ConnOptions{AsyncFlush: true}); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two"} {
		if _, err := b.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-reads:
			if got != msg {
				t.Fatalf("OnData saw %q, want %q", got, msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q not read while the first reply's Write blocks", msg)
		}
	}
	close(hold)
	if got := string(readFull(t, b, 10)); got != "replyreply" {
		t.Fatalf("read %q, want both replies", got)
	}
}

// TestRunOrder: functions passed to Run from one goroutine run in order.
func TestRunOrder(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		connCh := make(chan Conn, 1)
		h := newTH()
		h.open = func(c Conn) { connCh <- c }
		_, addr := start(t, Config{Kind: k}, h)
		dial(t, addr)
		sc := <-connCh
		const n = 2000
		var got []int // appended with the connection's callbacks only
		done := make(chan struct{})
		for i := range n {
			if err := sc.Run(func(Conn) {
				got = append(got, i)
				if i == n-1 {
					close(done)
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		<-done
		for i, v := range got {
			if v != i {
				t.Fatalf("Run #%d ran as #%d", v, i)
			}
		}
	})
}

// TestAfterFuncStoppedOnClose: a goroutine-served connection's AfterFunc
// timers are stopped when it closes, and do not keep it alive.
func TestAfterFuncStoppedOnClose(t *testing.T) {
	connCh := make(chan Conn, 1)
	h := newTH()
	h.open = func(c Conn) { connCh <- c }
	_, addr := start(t, Config{Kind: Goroutine}, h)
	dial(t, addr)
	c := (<-connCh).(*gconn)
	var ran atomic.Bool
	for range 3 {
		if err := c.AfterFunc(time.Hour, func(Conn) { ran.Store(true) }); err != nil {
			t.Fatal(err)
		}
	}
	c.tmu.Lock()
	timers := make([]*time.Timer, 0, len(c.afters))
	for _, a := range c.afters {
		timers = append(timers, a.t)
	}
	c.tmu.Unlock()
	if len(timers) != 3 {
		t.Fatalf("%d pending AfterFuncs, want 3", len(timers))
	}
	c.Close()
	h.waitClose(t)
	for _, tm := range timers {
		if tm.Stop() {
			t.Fatal("an AfterFunc timer was still armed after the connection closed")
		}
	}
	if err := c.AfterFunc(time.Millisecond, func(Conn) { ran.Store(true) }); err != ErrConnClosed {
		t.Fatalf("AfterFunc after close = %v, want ErrConnClosed", err)
	}
	if ran.Load() {
		t.Fatal("an AfterFunc ran")
	}
}

// TestStopAcceptingWaits: once StopAccepting returns, no connection is
// accepted any more, even one the kernel had queued.
func TestStopAcceptingWaits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, k Kind) {
		h := newTH()
		e, addr := start(t, Config{Kind: k}, h)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
						c.Close()
					}
				}
			}()
		}
		eventually(t, "some accepted", func() bool { return e.Stats().Accepted > 20 })
		e.StopAccepting()
		after := e.Stats().Accepted
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := e.Stats().Accepted; n != after {
			t.Fatalf("%d connections accepted after StopAccepting returned", n-after)
		}
	})
}
