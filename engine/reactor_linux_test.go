package engine

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
)

// kickLoops makes every loop of a reactor engine run a full iteration
// (tasks, timers), twice, so a change of an injected clock is seen.
func kickLoops(e *Engine) {
	r, ok := e.be.(*reactor)
	if !ok {
		return
	}
	for range 2 {
		for _, l := range r.loops {
			l.callSync(func(*loop) {})
		}
	}
}

// TestStaleEventIgnored replays, inside one loop iteration, an epoll event of
// a connection that was closed after the batch was returned, after a new
// connection took its slot (and, as the kernel reuses the lowest descriptor,
// its fd). The stale event must not reach the new connection; the new
// connection's own event must.
func TestStaleEventIgnored(t *testing.T) {
	var mu sync.Mutex
	datas := map[uint64]int{}
	connCh := make(chan Conn, 1)
	h := newTH()
	h.open = func(c Conn) {
		if c.Context() == nil {
			connCh <- c
		}
	}
	h.data = func(c Conn) error {
		mu.Lock()
		datas[c.ID()]++
		mu.Unlock()
		return nil // leave the bytes: the socket stays readable
	}
	e, addr := start(t, Config{Kind: Reactor, Loops: 1}, h)
	dial(t, addr)
	old := (<-connCh).(*conn)
	l := e.be.(*reactor).loops[0]

	var x, y int
	var newc *conn
	var staleRan, freshRan bool
	l.callSync(func(l *loop) {
		stale := poll.Event{Events: unix.EPOLLIN}
		poll.Pack(&stale, old.slot, old.seq)
		oldFd := old.fd
		l.closeConn(old, nil)

		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		x, y = fds[0], fds[1]
		unix.Write(y, []byte("data for the new connection"))
		l.e.open.Add(1)
		newc = newConn(l, x)
		newc.unix = true
		newc.ctx = "new"
		l.register(newc)
		if newc.slot != old.slot {
			t.Errorf("new connection got slot %d, want the freed slot %d", newc.slot, old.slot)
		}
		if x != oldFd {
			t.Logf("fd not reused (%d vs %d); slot reuse still exercised", x, oldFd)
		}

		l.handle(&stale)
		mu.Lock()
		staleRan = datas[newc.id] > 0
		mu.Unlock()

		fresh := poll.Event{Events: unix.EPOLLIN}
		poll.Pack(&fresh, newc.slot, newc.seq)
		l.handle(&fresh)
		mu.Lock()
		freshRan = datas[newc.id] > 0
		mu.Unlock()
	})
	defer unix.Close(y)
	if staleRan {
		t.Fatal("stale event of the closed connection was delivered to the new one")
	}
	if !freshRan {
		t.Fatal("the new connection's own event was not delivered (test is not exercising the path)")
	}
}

// loopKinds are the backends built on the reactor's loops.
var loopKinds = []Kind{Reactor, Uring}

func forEachLoopKind(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range loopKinds {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
}

func TestBalance(t *testing.T) { forEachLoopKind(t, testBalance) }

func testBalance(t *testing.T, k Kind) {
	t.Run("round-robin", func(t *testing.T) {
		var per [4]atomic.Int32
		h := newTH()
		h.open = func(c Conn) { per[c.Loop()].Add(1) }
		_, addr := start(t, Config{Kind: k, Loops: 4, Balance: RoundRobin}, h)
		for range 40 {
			dial(t, addr)
		}
		eventually(t, "40 OnOpen calls", func() bool {
			n := int32(0)
			for i := range per {
				n += per[i].Load()
			}
			return n == 40
		})
		for i := range per {
			if n := per[i].Load(); n != 10 {
				t.Errorf("loop %d got %d connections, want 10", i, n)
			}
		}
	})
	t.Run("least-connections", func(t *testing.T) {
		var per [4]atomic.Int32
		conns := make(chan Conn, 100)
		h := newTH()
		h.open = func(c Conn) { per[c.Loop()].Add(1); conns <- c }
		h.close = func(c Conn, err error) { per[c.Loop()].Add(-1) }
		e, addr := start(t, Config{Kind: k, Loops: 4, Balance: LeastConns}, h)
		for range 8 {
			dial(t, addr)
			eventually(t, "registered", func() bool { return len(conns) > 0 })
			<-conns
		}
		// Close connections on loop 2 only; new ones must go there.
		r := e.be.(*reactor)
		r.loops[2].callSync(func(l *loop) {
			for _, c := range l.conns {
				if c != nil {
					l.closeConn(c, nil)
				}
			}
		})
		for range 2 {
			dial(t, addr)
			eventually(t, "registered", func() bool { return len(conns) > 0 })
			if c := <-conns; c.Loop() != 2 {
				t.Errorf("new connection went to loop %d, want the emptiest loop 2", c.Loop())
			}
		}
	})
}

func TestReusePort(t *testing.T) { forEachLoopKind(t, testReusePort) }

func testReusePort(t *testing.T, k Kind) {
	var per [4]atomic.Int32
	h := newTH()
	h.open = func(c Conn) { per[c.Loop()].Add(1) }
	e, addr := start(t, Config{Kind: k, Loops: 4, ReusePort: true}, h)
	for range 200 {
		c := dial(t, addr)
		c.Write([]byte("r"))
		readFull(t, c, 1)
	}
	used := 0
	for i := range per {
		if per[i].Load() > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("SO_REUSEPORT spread 200 connections over %d loop(s), want several", used)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.Shutdown(ctx)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("a reuseport socket is still listening after Shutdown")
	}
}

func TestIdleConnectionHoldsNoBuffers(t *testing.T) {
	forEachLoopKind(t, testIdleConnectionHoldsNoBuffers)
}

func testIdleConnectionHoldsNoBuffers(t *testing.T, k Kind) {
	for _, mode := range []ReadMode{ReadLoopBuffer, ReadConnBuffer} {
		connCh := make(chan Conn, 1)
		h := newTH()
		h.open = func(c Conn) { connCh <- c }
		h.data = frameHandler().data // consumes whole frames with Next, keeps partial ones
		_, addr := start(t, Config{Kind: k, Loops: 1, ReadMode: mode}, h)
		cl := dial(t, addr)
		sc := (<-connCh).(*conn)
		f := frame(strings.Repeat("z", 100000))
		for _, part := range [][]byte{f[:3], f[3:5000], f[5000:]} { // partial frames across reads
			cl.Write(part)
			time.Sleep(5 * time.Millisecond)
		}
		readFull(t, cl, 100000)
		var in, out int
		sc.l.callSync(func(*loop) { in, out = sc.in.Chunks(), sc.out.Chunks() })
		if in != 0 || out != 0 {
			t.Fatalf("read mode %d: idle connection holds %d inbound and %d outbound chunks, want 0", mode, in, out)
		}
	}
}

// TestSleepingLoopWakes checks both ways an idle loop sleeps (parked on the
// netpoller, the default, or blocked in epoll_wait or io_uring_enter): a
// timer due while it sleeps fires on time, and an AsyncWrite from another
// goroutine wakes it at once.
func TestSleepingLoopWakes(t *testing.T) { forEachLoopKind(t, testSleepingLoopWakes) }

func testSleepingLoopWakes(t *testing.T, k Kind) {
	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("BlockingWait=%v", blocking), func(t *testing.T) {
			h := newTH()
			opened := make(chan Conn, 1)
			h.open = func(c Conn) { opened <- c }
			_, addr := start(t, Config{Kind: k, Loops: 1, BlockingWait: blocking}, h)
			client := dial(t, addr)
			c := <-opened

			fired := make(chan time.Time, 1)
			armed := time.Now()
			if err := c.AfterFunc(30*time.Millisecond, func(c Conn) {
				fired <- time.Now()
				c.Write([]byte("timer"))
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case at := <-fired:
				if d := at.Sub(armed); d < 30*time.Millisecond {
					t.Errorf("timer fired after %v, before its 30ms", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a timer due while the loop slept never fired")
			}
			if got := readFull(t, client, 5); string(got) != "timer" {
				t.Fatalf("read %q, want the timer's write", got)
			}

			// The loop is asleep again with no timer: only the eventfd
			// can wake it.
			time.Sleep(50 * time.Millisecond)
			if err := c.AsyncWrite([]byte("async"), nil); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, client, 5); string(got) != "async" {
				t.Fatalf("read %q, want the AsyncWrite", got)
			}
		})
	}
}

// TestKeepAliveDefaultOff checks SO_KEEPALIVE on accepted and dialed
// connections of both engines: off by default (net.Listen and net.Dial
// would turn it on), on with Config.TCPKeepAlive. Probes from a million
// held connections are real load, so the default matters.
func TestKeepAliveDefaultOff(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		for _, ka := range []time.Duration{0, 45 * time.Second} {
			t.Run(fmt.Sprint("TCPKeepAlive=", ka), func(t *testing.T) {
				h := newTH()
				opened := make(chan Conn, 2)
				h.open = func(c Conn) { opened <- c }
				e, addr := start(t, Config{Kind: k, TCPKeepAlive: ka}, h)
				if _, err := e.Dial(context.Background(), "tcp", addr, DialOptions{Timeout: 5 * time.Second}); err != nil {
					t.Fatal(err)
				}
				for range 2 { // the dialed end and the accepted end
					var c Conn
					select {
					case c = <-opened:
					case <-time.After(5 * time.Second):
						t.Fatal("connection never opened")
					}
					on, idle := keepAliveOf(t, c)
					if want := ka > 0; on != want {
						t.Errorf("SO_KEEPALIVE = %v, want %v", on, want)
					}
					if ka > 0 && idle != int(ka/time.Second) {
						t.Errorf("TCP_KEEPIDLE = %ds, want %v", idle, ka)
					}
				}
			})
		}
	})
}

// keepAliveOf reads SO_KEEPALIVE and TCP_KEEPIDLE of c's socket.
func keepAliveOf(t *testing.T, c Conn) (on bool, idle int) {
	t.Helper()
	get := func(fd int) {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		if err != nil {
			t.Fatal(err)
		}
		on = v != 0
		if idle, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE); err != nil {
			t.Fatal(err)
		}
	}
	switch c := c.(type) {
	case *conn:
		get(c.fd)
	case *gconn:
		rc, err := c.nc.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		rc.Control(func(fd uintptr) { get(int(fd)) })
	default:
		t.Fatalf("unknown connection type %T", c)
	}
	return on, idle
}
