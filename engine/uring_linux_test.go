package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/uring"
)

// uringLoop returns loop i of a Uring engine and its driver, skipping the
// test where io_uring is unavailable (the engine fell back to epoll).
func uringLoop(t *testing.T, e *Engine, i int) (*loop, *uringIO) {
	t.Helper()
	if e.Config().Kind != Uring {
		t.Skipf("io_uring unavailable here: %v", uringUnavailable())
	}
	l := e.be.(*reactor).loops[i]
	return l, l.io.(*uringIO)
}

// TestUringStaleCompletion replays, inside one loop turn, completions of a
// connection that closed after its slot went to a new connection: a
// receive's end of stream and a send's result. Neither may touch the new
// connection; the new connection's own completion must reach it.
func TestUringStaleCompletion(t *testing.T) {
	connCh := make(chan Conn, 1)
	h := newTH()
	h.open = func(c Conn) {
		if c.Context() == nil {
			connCh <- c
		}
	}
	e, addr := start(t, Config{Kind: Uring, Loops: 1}, h)
	l, u := uringLoop(t, e, 0)
	dial(t, addr)
	old := (<-connCh).(*conn)

	var x, y int
	var newc *conn
	var afterStale, afterFresh bool
	l.callSync(func(l *loop) {
		oldSlot, oldSeq := old.slot, old.seq
		l.closeConn(old, nil)
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		x, y = fds[0], fds[1]
		l.e.open.Add(1)
		newc = newConn(l, x)
		newc.unix = true
		newc.ctx = "new"
		l.register(newc)
		if newc.slot != oldSlot {
			t.Errorf("new connection got slot %d, want the freed slot %d", newc.slot, oldSlot)
		}
		// The old connection's receive ends (EOF, no buffer) and a send
		// of it completes: both stale.
		u.complete(&uring.CQE{UserData: userData(udRecv, oldSlot, oldSeq), Res: 0})
		u.recvs++ // that end of stream was made up: the real one is still to come
		u.complete(&uring.CQE{UserData: userData(udSend, oldSlot, oldSeq), Res: 100})
		afterStale = !newc.closed && !newc.closing && newc.written == 0
		// The new connection's own end of stream closes it.
		u.complete(&uring.CQE{UserData: userData(udRecv, newc.slot, newc.seq), Res: 0})
		u.recvs++
		afterFresh = newc.closed
	})
	defer unix.Close(y)
	if !afterStale {
		t.Fatal("a stale completion of the closed connection reached the new one")
	}
	if !afterFresh {
		t.Fatal("the new connection's own completion was not delivered (test is not exercising the path)")
	}
}

// TestUringCloseWithSendInFlight closes a connection whose send the kernel
// still holds (the peer reads nothing): the outbound chunks and the slot
// stay with the driver until the cancelled send completes, then both are
// released, and the next connection is served normally.
func TestUringCloseWithSendInFlight(t *testing.T) {
	connCh := make(chan Conn, 2)
	h := newTH()
	h.open = func(c Conn) { connCh <- c }
	e, addr := start(t, Config{Kind: Uring, Loops: 1, SocketSendBuffer: 8192}, h)
	l, u := uringLoop(t, e, 0)
	dialSmall(t, addr) // never reads
	sc := (<-connCh).(*conn)
	big := bytes.Repeat([]byte("s"), 1<<20)
	sc.Run(func(c Conn) { c.Write(big) })
	eventually(t, "send blocked in the kernel", func() bool {
		var sending bool
		l.callSync(func(*loop) { sending = sc.ureq&uringSend != 0 && sc.out.Len() > 0 })
		return sending
	})
	sc.Run(func(c Conn) { c.SetDeadline(time.Now()) }) // a hard close, backlog and all
	if ev := h.waitClose(t); !errors.Is(ev.err, ErrDeadlineExceeded) {
		t.Fatalf("OnClose err = %v, want ErrDeadlineExceeded", ev.err)
	}
	eventually(t, "the cancelled send completed", func() bool {
		var n int
		l.callSync(func(*loop) { n = len(u.zombies) })
		return n == 0
	})
	var chunks, free int
	l.callSync(func(*loop) { chunks, free = sc.out.Chunks(), len(l.free) })
	if chunks != 0 || free != 1 {
		t.Fatalf("after the send's completion: %d outbound chunks, %d free slots; want 0 and 1", chunks, free)
	}
	c := dial(t, addr)
	c.Write([]byte("next"))
	if got := readFull(t, c, 4); string(got) != "next" {
		t.Fatalf("next connection got %q", got)
	}
}

// TestUringSendFileAbortedByClose closes a connection in the middle of a
// file transfer: the segment in flight reports ErrConnClosed only once the
// kernel is through with the file, the others at once, and the pipe is
// closed.
func TestUringSendFileAbortedByClose(t *testing.T) {
	f := tempFile(t, bytes.Repeat([]byte("f"), 8<<20))
	connCh := make(chan Conn, 1)
	h := newTH()
	h.open = func(c Conn) { connCh <- c }
	e, addr := start(t, Config{Kind: Uring, Loops: 1, SocketSendBuffer: 8192}, h)
	l, u := uringLoop(t, e, 0)
	dialSmall(t, addr)
	sc := (<-connCh).(*conn)
	before := openFds(t) // with both ends of the connection
	var mu sync.Mutex
	var errs []error
	done := func(c Conn, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	sc.AsyncSendFile(f, 0, 8<<20, done)
	sc.AsyncSendFile(f, 0, 1<<20, done)
	eventually(t, "splicing", func() bool {
		var n int
		l.callSync(func(*loop) { n = len(u.splices) })
		return n == 1
	})
	sc.Run(func(c Conn) { c.SetDeadline(time.Now()) })
	h.waitClose(t)
	eventually(t, "both done callbacks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) == 2
	})
	for _, err := range errs {
		if err != ErrConnClosed {
			t.Fatalf("done err = %v, want ErrConnClosed", err)
		}
	}
	var n int
	l.callSync(func(*loop) { n = len(u.splices) })
	if n != 0 {
		t.Fatalf("%d transfers left after close", n)
	}
	// The server's end and the pipe are closed.
	eventually(t, "descriptors closed", func() bool { return openFds(t) <= before-1 })
}

// TestUringManyAtOnce has more data arrive in one loop turn than the
// provided buffer ring holds: receives that find it empty end with ENOBUFS
// and are re-armed, and every byte still arrives in order.
func TestUringManyAtOnce(t *testing.T) {
	const conns, size = 32, 256 << 10 // 8 MiB in flight against a 512 KiB ring
	_, addr := start(t, Config{Kind: Uring, Loops: 1}, newTH())
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		c := dial(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			go c.Write(msg)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, size)
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, msg) {
				errs <- errors.New("echo differs")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestUringFallback checks that a Uring engine where io_uring cannot run
// (disabled by sysctl, refused by seccomp, an old kernel: simulated here)
// runs the epoll reactor and says so in one log line.
func TestUringFallback(t *testing.T) {
	uringUnavailable() // the real probe, once
	saved := uringProbe.err
	uringProbe.err = &uring.SetupError{Op: "io_uring_setup", Err: unix.EPERM}
	defer func() { uringProbe.err = saved }()
	var logged strings.Builder
	var lines atomic.Int32
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		lines.Add(1)
		return logged.Write(p)
	}), nil))
	e, addr := start(t, Config{Kind: Uring, Logger: log}, newTH())
	if k := e.Config().Kind; k != Reactor || e.Stats().Kind != Reactor {
		t.Fatalf("Kind = %v, want the reactor fallback", k)
	}
	if lines.Load() != 1 || !strings.Contains(logged.String(), "io_uring unavailable") || !strings.Contains(logged.String(), "operation not permitted") {
		t.Fatalf("log = %q, want one line saying io_uring is unavailable and why", logged.String())
	}
	c := dial(t, addr)
	c.Write([]byte("ok"))
	if string(readFull(t, c, 2)) != "ok" {
		t.Fatal("fallback engine does not serve")
	}
}

// TestAutoPicksUring checks that Auto runs io_uring where it can run, and
// the reactor, without a word, where it cannot.
func TestAutoPicksUring(t *testing.T) {
	var lines atomic.Int32
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		lines.Add(1)
		return len(p), nil
	}), nil))
	want := Uring
	if uringUnavailable() != nil {
		want = Reactor
	}
	e, addr := start(t, Config{Kind: Auto, Logger: log}, newTH())
	if k := e.Config().Kind; k != want || e.Stats().Kind != want {
		t.Fatalf("Auto ran %v, want %v (io_uring unavailable: %v)", k, want, uringUnavailable())
	}
	c := dial(t, addr)
	c.Write([]byte("ok"))
	if string(readFull(t, c, 2)) != "ok" {
		t.Fatal("the engine Auto picked does not serve")
	}

	saved := uringProbe.err
	uringProbe.err = &uring.SetupError{Op: "io_uring_setup", Err: unix.EPERM}
	defer func() { uringProbe.err = saved }()
	e2, _ := start(t, Config{Kind: Auto, Logger: log}, newTH())
	if k := e2.Config().Kind; k != Reactor {
		t.Fatalf("Auto without io_uring ran %v, want the reactor", k)
	}
	if n := lines.Load(); n != 0 {
		t.Fatalf("Auto logged %d lines; choosing is not a warning", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestUringShutdownReleasesEverything checks that a Uring engine leaves no
// descriptor behind (rings, eventfds, accepted sockets closed through the
// ring) and that its dialed connections work like accepted ones.
func TestUringShutdownReleasesEverything(t *testing.T) {
	before := openFds(t)
	h := newTH()
	e, err := New(Config{Kind: Uring, Loops: 2}, h)
	if err != nil {
		t.Fatal(err)
	}
	if e.Config().Kind != Uring {
		t.Skipf("io_uring unavailable here: %v", uringUnavailable())
	}
	a, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	var cs []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", a.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	dc, err := e.Dial(context.Background(), "tcp", a.String(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dc.AsyncWrite([]byte("dialed"), nil)
	eventually(t, "all open", func() bool { return e.Stats().Open == 22 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		expectEOF(t, c)
		c.Close()
	}
	if after := openFds(t); after > before {
		t.Fatalf("fd leak: %d open before, %d after", before, after)
	}
}

// TestUringWakeAfterBusyTurns races wake-ups from another goroutine
// against turns the loop spends busy with I/O: a wake-up that lands while
// the loop is about to sleep but then finds work must not leave the loop
// deaf to the next one (it once did, and a parked loop then missed
// Shutdown).
func TestUringWakeAfterBusyTurns(t *testing.T) {
	forEachWait(t, func(t *testing.T, cfg Config) {
		connCh := make(chan Conn, 1)
		h := newTH()
		h.open = func(c Conn) { connCh <- c }
		h.data = func(c Conn) error { // echo each byte as "i"
			n, _ := c.Discard(-1)
			c.Write(bytes.Repeat([]byte("i"), n))
			return nil
		}
		_, addr := start(t, cfg, h)
		cl := dial(t, addr)
		sc := <-connCh
		for i := range 300 {
			go sc.AsyncWrite([]byte("a"), nil)
			cl.Write([]byte("x"))
			got := readFull(t, cl, 2) // one of each, in either order
			if !bytes.Contains(got, []byte("a")) || !bytes.Contains(got, []byte("i")) {
				t.Fatalf("round %d: got %q", i, got)
			}
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond) // let the loop park
			}
		}
		// Idle now: a lone AsyncWrite must still wake the loop.
		time.Sleep(20 * time.Millisecond)
		sc.AsyncWrite([]byte("z"), nil)
		if got := readFull(t, cl, 1); string(got) != "z" {
			t.Fatalf("got %q", got)
		}
	})
}

// forEachWait runs f on a one-loop Uring engine that parks and on one
// that blocks in io_uring_enter.
func forEachWait(t *testing.T, f func(t *testing.T, cfg Config)) {
	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("BlockingWait=%v", blocking), func(t *testing.T) {
			f(t, Config{Kind: Uring, Loops: 1, BlockingWait: blocking})
		})
	}
}
