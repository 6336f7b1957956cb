package kcp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"

	"wharf/buffer"
	"wharf/engine"
)

const (
	// closeTimeout bounds a graceful close: the outbound backlog and its
	// acknowledgement get at most this long, as on the TCP engine.
	closeTimeout = 10 * time.Second
	// silentPeer ends a graceful close early when the peer has sent nothing
	// for this long (or 8 RTOs, if longer): it is gone, and KCP has no close
	// handshake that would tell. At 15% loss, fast mode retransmits about 7
	// times in 2 s, so a live peer is almost never mistaken for a dead one.
	silentPeer = 2 * time.Second
	// blindLinger is how long (at least; 3 RTOs if longer) a graceful close
	// waits after the backlog was handed to KCP when the gate cannot see
	// acknowledgements (encryption on).
	blindLinger = 100 * time.Millisecond
	// readChunk is the room reserved for each Read: a KCP segment is at most
	// an MTU.
	readChunk = 4096
	// noDeadline stands for "no deadline" in reads (see setReadDeadline).
	noDeadline = time.Hour
)

// Connection states, as on the engine.
const (
	connOpen uint32 = iota
	connClosing
	connClosed
)

// sconn is a KCP session served as an engine.Conn, on the model of the
// engine's goroutine backend: its reader goroutine (serve) owns the
// lifecycle; callbacks run under mu; outbound bytes go to kcp-go from one
// writer goroutine at a time.
type sconn struct {
	t     *Transport
	sess  *kcpgo.UDPSession
	key   netip.AddrPort
	id    uint64
	ctx   any    // set in OnOpen, before the Conn is shared
	entry *entry // the gate's table entry; set by attach before serve starts

	mu     sync.Mutex    // serialises callbacks; guards the fields below
	in     buffer.Buffer // inbound bytes; the reader fills it outside mu only while no callback runs
	dirty  bool          // Write was called in the current callback
	closed bool          // OnClose has run
	kill   error         // a callback asked for an immediate close

	wmu     sync.Mutex    // guards the outbound fields below
	out     buffer.Buffer // outbound backlog, not yet handed to KCP
	outPos  uint64        // bytes ever queued
	written uint64        // bytes ever handed to KCP
	marks   []mark
	writing bool // a goroutine is writing out; only it reads the head of out
	high    bool

	idle     atomic.Int64 // idle timeout on inbound data, ns (0: none)
	deadline atomic.Int64 // absolute deadline, UnixNano (0: none)
	lastRead atomic.Int64 // UnixNano of the last read

	state    atomic.Uint32
	closeReq atomic.Bool
	reaping  atomic.Bool                 // the idle reaper has closed the session
	reason   atomic.Pointer[closeReason] // set by closeWith from any goroutine
	pending  atomic.Int32
}

// mark is an AsyncWrite waiting for its bytes to reach KCP.
type mark struct {
	end  uint64
	done engine.WriteDone
}

type closeReason struct {
	err      error
	graceful bool
}

var _ engine.Conn = (*sconn)(nil)

func newSconn(t *Transport, s *kcpgo.UDPSession, key netip.AddrPort) *sconn {
	c := &sconn{t: t, sess: s, key: key, id: t.nextID.Add(1)}
	c.in.Init(nil)
	c.out.Init(nil)
	return c
}

// serve is the session's goroutine: OnOpen, then read and dispatch until
// an error or a close request, then the close sequence and OnClose.
func (c *sconn) serve() {
	t := c.t
	defer func() {
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		t.serving.Done()
	}()
	c.lastRead.Store(time.Now().UnixNano())
	c.mu.Lock()
	c.call(func() { t.h.OnOpen(c) })
	c.mu.Unlock()
	c.afterCallback()
	var region [1][]byte
	for c.reason.Load() == nil {
		c.setReadDeadline()
		if c.reason.Load() != nil {
			break // closeWith's wake-up may have been overwritten
		}
		bufs := c.in.Reserve(readChunk, region[:0])
		n, err := c.sess.Read(bufs[0])
		c.in.Commit(n)
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			t.ctr.reads.Add(1)
			t.ctr.bytesRead.Add(uint64(n))
			var herr error
			c.mu.Lock()
			c.call(func() { herr = t.h.OnData(c) })
			overflow := c.in.Len() > t.cfg.MaxInbound
			c.mu.Unlock()
			if herr != nil {
				c.closeWith(herr, true)
			} else if overflow {
				c.closeWith(engine.ErrInboundFull, false)
			}
			c.afterCallback()
		}
		if err != nil {
			c.classify(err)
		}
	}
	c.finish()
}

// classify records the close reason a read error means, if any; a timeout
// whose deadline was moved while Read waited means none (read again).
// kcp-go never reports io.EOF: KCP has no close handshake.
func (c *sconn) classify(err error) {
	if c.reason.Load() != nil {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		now := time.Now().UnixNano()
		if d := c.deadline.Load(); d > 0 && now >= d {
			c.reason.CompareAndSwap(nil, &closeReason{err: engine.ErrDeadlineExceeded})
		} else if idle := c.idle.Load(); idle > 0 && now-c.lastRead.Load() >= idle {
			c.reason.CompareAndSwap(nil, &closeReason{err: engine.ErrIdleTimeout})
		}
		return
	}
	if errors.Is(err, io.ErrClosedPipe) {
		// kcp-go closed the session under us: it reset the conversation.
		err = ErrSessionReplaced
	}
	c.reason.CompareAndSwap(nil, &closeReason{err: &engine.OpError{Op: "read", Err: err}})
}

// finish runs the close sequence on the reader goroutine.
func (c *sconn) finish() {
	t := c.t
	r := c.reason.Load()
	if r == nil {
		r = &closeReason{err: engine.ErrConnClosed}
	}
	c.state.Store(connClosing)
	if r.graceful {
		c.linger(r)
		r = c.reason.Load()
	}
	c.state.Store(connClosed)
	// Leave the table before kcp-go forgets the session, so that a datagram
	// arriving in between meets the gate's rules for unknown addresses
	// instead of making kcp-go open a session the gate has not admitted.
	t.gate.detach(c)
	c.sess.Close()
	c.waitWriter()
	c.failMarks()
	t.open.Add(-1)
	t.ctr.closedBy[engine.CloseReasonOf(r.err)].Add(1)
	c.mu.Lock()
	c.closed = true
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.ctr.panics.Add(1)
				t.cfg.Logger.Error("kcp: panic in OnClose", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		t.h.OnClose(c, r.err)
	}()
	c.in.Reset()
	c.mu.Unlock()
	c.wmu.Lock()
	c.out.Reset()
	c.wmu.Unlock()
}

// linger is the graceful part of a close: hand the backlog to KCP, then
// keep the session alive (KCP retransmits only while it is) until the peer
// has acknowledged everything, the peer has gone silent, closeTimeout
// passes, or a hard close overrides this one.
func (c *sconn) linger(r *closeReason) {
	start := time.Now()
	deadline := start.Add(closeTimeout)
	c.sess.SetWriteDeadline(deadline)
	var handed time.Time // when the backlog was first seen handed over
	sleep := time.Millisecond
	for {
		if c.claimWriter() {
			c.drain()
		}
		c.wmu.Lock()
		empty := c.out.Len() == 0 && !c.writing
		written := c.written
		c.wmu.Unlock()
		now := time.Now()
		if now.After(deadline) || c.reason.Load() != r {
			return
		}
		if empty {
			if handed.IsZero() {
				handed = now
			}
			rto := time.Duration(c.sess.GetRTO()) * time.Millisecond
			if c.t.gate.observable() {
				e := c.entry
				if e.sent.Load() == written && !seqAfter(e.sndNxt.Load(), e.una.Load()) {
					return // everything acknowledged
				}
				silence := max(silentPeer, 8*rto)
				if now.UnixNano()-e.last.Load() > int64(silence) && now.Sub(handed) > silence {
					return // the peer is gone
				}
			} else if now.Sub(handed) >= max(blindLinger, 3*rto) {
				return
			}
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, 20*time.Millisecond)
	}
}

// call runs a callback with panic recovery; mu must be held.
func (c *sconn) call(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			c.t.ctr.panics.Add(1)
			c.t.cfg.Logger.Error("kcp: panic in handler, closing session", "conn", c.id, "panic", p, "stack", string(stack))
			if c.kill == nil {
				c.kill = &engine.PanicError{Value: p, Stack: stack}
			}
		}
	}()
	fn()
}

// afterCallback applies a close request and starts writing what callbacks
// queued. Called without mu held.
func (c *sconn) afterCallback() {
	c.mu.Lock()
	kill, dirty := c.kill, c.dirty
	c.kill, c.dirty = nil, false
	c.mu.Unlock()
	if kill != nil {
		c.closeWith(kill, false)
		return
	}
	if c.closeReq.Load() {
		c.closeWith(nil, true)
	}
	if dirty && c.claimWriter() {
		// On its own goroutine: kcp-go blocks a write while the send window
		// is full, and the reader must keep reading meanwhile.
		go c.drain()
	}
}

// closeWith records why the session closes (the first reason wins) and
// wakes the reader: at once for a hard close, after the backlog for a
// graceful one. Any goroutine.
func (c *sconn) closeWith(err error, graceful bool) {
	if c.reason.CompareAndSwap(nil, &closeReason{err: err, graceful: graceful}) || !graceful {
		if !graceful {
			r := c.reason.Load()
			if r.graceful { // escalate a graceful close in progress
				c.reason.Store(&closeReason{err: r.err})
			}
			// Closing the kcp-go session wakes the reader and any writer;
			// finish runs the rest.
			c.sess.Close()
			return
		}
		c.sess.SetReadDeadline(time.Unix(1, 0))
	}
}

func (c *sconn) setReadDeadline() {
	var t int64
	if idle := c.idle.Load(); idle > 0 {
		t = c.lastRead.Load() + idle
	}
	if d := c.deadline.Load(); d > 0 && (t == 0 || d < t) {
		t = d
	}
	if t == 0 {
		// Never the zero time: kcp-go's Read arms its timer only if a
		// deadline is set when it starts, and a deadline set later (the
		// wake-up of closeWith) reaches it only through that timer.
		t = time.Now().Add(noDeadline).UnixNano()
	}
	c.sess.SetReadDeadline(time.Unix(0, t))
}

// claimWriter makes the caller the one goroutine writing out, if there is
// work and nobody is.
func (c *sconn) claimWriter() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writing || c.out.Len() == 0 {
		return false
	}
	c.writing = true
	return true
}

// waitWriter waits until no goroutine is writing out. After the kcp-go
// session is closed a writer returns at once.
func (c *sconn) waitWriter() {
	for {
		c.wmu.Lock()
		w := c.writing
		c.wmu.Unlock()
		if !w {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// drain hands the backlog to KCP until it is empty; the caller won
// claimWriter. Each call to kcp-go passes at most a send window of bytes:
// kcp-go queues whatever it is given once the window has room, so larger
// writes would move the backlog out of reach of MaxOutbound.
func (c *sconn) drain() {
	t := c.t
	var bufs [][]byte
	for {
		c.wmu.Lock()
		if c.out.Len() == 0 || c.state.Load() == connClosed {
			c.writing = false
			low := c.high && c.out.Len() < t.cfg.WriteLowWater
			if low {
				c.high = false
			}
			c.wmu.Unlock()
			if low {
				c.watermark(false)
			}
			return
		}
		bufs = c.out.Slices(bufs[:0], t.maxWrite)
		c.wmu.Unlock()
		n, err := c.sess.WriteBuffers(bufs)
		clear(bufs)
		var done []mark
		c.wmu.Lock()
		c.out.Discard(n)
		c.written += uint64(n)
		i := 0
		for i < len(c.marks) && c.marks[i].end <= c.written {
			i++
		}
		if i > 0 {
			done = append(done, c.marks[:i]...)
			c.marks = append(c.marks[:0], c.marks[i:]...)
		}
		c.wmu.Unlock()
		if n > 0 {
			t.ctr.writes.Add(1)
			t.ctr.bytesWritten.Add(uint64(n))
		}
		c.complete(done, nil)
		if err != nil {
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			c.closeWith(&engine.OpError{Op: "write", Err: err}, false)
			return
		}
	}
}

func (c *sconn) complete(ms []mark, err error) {
	for _, m := range ms {
		c.pending.Add(-1)
		c.t.pending.Add(-1)
		if m.done != nil {
			func() {
				defer func() {
					if p := recover(); p != nil {
						c.t.ctr.panics.Add(1)
						c.t.cfg.Logger.Error("kcp: panic in write callback", "conn", c.id, "panic", p)
					}
				}()
				m.done(c, err)
			}()
		}
	}
}

func (c *sconn) failMarks() {
	c.wmu.Lock()
	ms := c.marks
	c.marks = nil
	c.wmu.Unlock()
	c.complete(ms, engine.ErrConnClosed)
}

func (c *sconn) watermark(high bool) {
	wm, ok := c.t.h.(engine.WatermarkHandler)
	if !ok {
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.call(func() { wm.OnWatermark(c, high) })
	}
	c.mu.Unlock()
	c.afterCallback()
}

// --- inbound (callbacks only: mu held) ---

// InboundBuffered implements engine.Conn.
func (c *sconn) InboundBuffered() int { return c.in.Len() }

// Peek implements engine.Conn.
func (c *sconn) Peek(n int) ([]byte, error) {
	if n <= 0 {
		n = c.in.Len()
	}
	return c.in.Peek(n)
}

// Next implements engine.Conn.
func (c *sconn) Next(n int) ([]byte, error) {
	if n <= 0 {
		n = c.in.Len()
	}
	if n > c.in.Len() {
		p, _ := c.in.Next(c.in.Len())
		return p, io.ErrShortBuffer
	}
	return c.in.Next(n)
}

// Discard implements engine.Conn.
func (c *sconn) Discard(n int) (int, error) {
	if n <= 0 {
		n = c.in.Len()
	}
	return c.in.Discard(n)
}

// --- outbound ---

// OutboundBuffered implements engine.Conn: bytes not yet handed to KCP.
func (c *sconn) OutboundBuffered() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.out.Len()
}

// Write implements engine.Conn (callbacks only).
func (c *sconn) Write(p []byte) (int, error) {
	if c.closed || c.kill != nil {
		return 0, engine.ErrConnClosed
	}
	c.wmu.Lock()
	if c.out.Len()+len(p) > c.t.cfg.MaxOutbound {
		c.wmu.Unlock()
		c.kill = engine.ErrOutboundFull
		return 0, engine.ErrOutboundFull
	}
	c.out.Write(p)
	c.outPos += uint64(len(p))
	high := c.checkHighLocked()
	c.wmu.Unlock()
	c.dirty = true
	if high {
		if wm, ok := c.t.h.(engine.WatermarkHandler); ok {
			c.call(func() { wm.OnWatermark(c, true) })
		}
	}
	return len(p), nil
}

func (c *sconn) checkHighLocked() bool {
	if !c.high && c.out.Len() > c.t.cfg.WriteHighWater {
		c.high = true
		return true
	}
	return false
}

// Writev implements engine.Conn (callbacks only).
func (c *sconn) Writev(bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := c.Write(b)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// AsyncWrite implements engine.Conn (any goroutine).
func (c *sconn) AsyncWrite(p []byte, done engine.WriteDone) error {
	return c.asyncWrite(p, nil, done)
}

// AsyncWritev implements engine.Conn (any goroutine).
func (c *sconn) AsyncWritev(bufs [][]byte, done engine.WriteDone) error {
	return c.asyncWrite(nil, bufs, done)
}

// AsyncSendFile implements engine.Conn (any goroutine). KCP has no
// sendfile: the range is read (with ReadAt, on the caller's goroutine) into
// the outbound backlog at once and then behaves as an AsyncWrite of those
// bytes, so it counts against MaxOutbound; done runs once they reach KCP.
// f may be closed when AsyncSendFile returns. A read error is returned
// (wrapped in an engine.OpError) and the session stays open.
func (c *sconn) AsyncSendFile(f *os.File, off, n int64, done engine.WriteDone) error {
	if done == nil {
		return ErrNilDone
	}
	if n < 0 || off < 0 {
		return &engine.OpError{Op: "sendfile", Err: fmt.Errorf("negative offset or length (%d, %d)", off, n)}
	}
	if c.state.Load() != connOpen || c.closeReq.Load() {
		return engine.ErrConnClosed
	}
	if n > int64(c.t.cfg.MaxOutbound) {
		c.closeWith(engine.ErrOutboundFull, false)
		return engine.ErrOutboundFull
	}
	buf := make([]byte, n)
	if got, err := f.ReadAt(buf, off); int64(got) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return &engine.OpError{Op: "sendfile", Err: err}
	}
	return c.asyncWrite(buf, nil, done)
}

func (c *sconn) asyncWrite(p []byte, bufs [][]byte, done engine.WriteDone) error {
	if c.state.Load() != connOpen || c.closeReq.Load() {
		return engine.ErrConnClosed
	}
	t := c.t
	if max := t.cfg.MaxPendingTotal; max > 0 && t.pending.Load() >= int64(max) {
		t.overload.Add(1)
		return engine.ErrOverloaded
	}
	if max := t.cfg.MaxPendingPerConn; max > 0 && int(c.pending.Load()) >= max {
		c.closeWith(engine.ErrOutboundFull, false)
		return engine.ErrOutboundFull
	}
	size := len(p)
	for _, b := range bufs {
		size += len(b)
	}
	c.wmu.Lock()
	if c.out.Len()+size > t.cfg.MaxOutbound {
		c.wmu.Unlock()
		c.closeWith(engine.ErrOutboundFull, false)
		return engine.ErrOutboundFull
	}
	c.out.Write(p)
	for _, b := range bufs {
		c.out.Write(b)
	}
	c.outPos += uint64(size)
	c.marks = append(c.marks, mark{end: c.outPos, done: done})
	c.pending.Add(1)
	t.pending.Add(1)
	high := c.checkHighLocked()
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if high {
		go c.watermark(true)
	}
	if start {
		go c.drain()
	}
	return nil
}

// SetIdleTimeout implements engine.Conn: the session closes with
// engine.ErrIdleTimeout after d without inbound data. It is independent of
// Config.IdleTimeout, which counts any datagram.
func (c *sconn) SetIdleTimeout(d time.Duration) {
	c.idle.Store(int64(max(d, 0)))
	c.setReadDeadline()
}

// SetDeadline implements engine.Conn. t is in Config.Clock's time, as on
// the reactor engine (the server computes deadlines from its own clock): the
// session closes when Clock has advanced to t, measured in real time from
// now.
func (c *sconn) SetDeadline(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		real := time.Now().Add(t.Sub(c.t.cfg.Clock()))
		c.deadline.Store(max(real.UnixNano(), 1))
	}
	c.setReadDeadline()
}

// SetContext implements engine.Conn.
func (c *sconn) SetContext(ctx any) { c.ctx = ctx }

// Context implements engine.Conn.
func (c *sconn) Context() any { return c.ctx }

// Run implements engine.Conn: fn runs on a new goroutine under the
// session's callback lock.
func (c *sconn) Run(fn func(engine.Conn)) error {
	if c.state.Load() == connClosed {
		return engine.ErrConnClosed
	}
	go func() {
		c.mu.Lock()
		if !c.closed {
			c.call(func() { fn(c) })
		}
		c.mu.Unlock()
		c.afterCallback()
	}()
	return nil
}

// AfterFunc implements engine.Conn.
func (c *sconn) AfterFunc(d time.Duration, fn func(engine.Conn)) error {
	if c.state.Load() == connClosed {
		return engine.ErrConnClosed
	}
	time.AfterFunc(d, func() { c.Run(fn) })
	return nil
}

// Close implements engine.Conn: a graceful close (see linger).
func (c *sconn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	c.state.CompareAndSwap(connOpen, connClosing)
	c.closeWith(nil, true)
	return nil
}

// Pending implements engine.Conn.
func (c *sconn) Pending() int { return int(c.pending.Load()) }

// ID implements engine.Conn: unique within the Transport, counted from
// 1<<62 so that it does not meet the TCP engine's ids in practice.
func (c *sconn) ID() uint64 { return c.id }

// Loop implements engine.Conn; sessions have no event loop: always 0.
func (c *sconn) Loop() int { return 0 }

// LocalAddr implements engine.Conn.
func (c *sconn) LocalAddr() net.Addr { return c.sess.LocalAddr() }

// RemoteAddr implements engine.Conn.
func (c *sconn) RemoteAddr() net.Addr { return c.sess.RemoteAddr() }
