package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"wharf/buffer"
)

const (
	// gReadChunk is the most one Read of a goroutine-served connection takes.
	gReadChunk = 4096
	// farFuture is the read deadline a goroutine-served connection keeps
	// while nobody wants it woken. Never the zero time: kcp-go's Read arms
	// its timer only if a deadline is set when it starts, so a deadline set
	// later (the wake-up of a graceful close) would otherwise not reach it.
	farFuture = 100 * 365 * 24 * time.Hour
)

// gconn is a connection served on goroutines of its own: a connection of
// the goroutine backend, or a foreign net.Conn given to ServeConn. Its
// reading goroutine (serve) owns the lifecycle; callbacks run under mu;
// outbound bytes go to the net.Conn from one writer at a time (whoever wins
// claimWriter).
type gconn struct {
	s      *gset
	e      *Engine
	nc     net.Conn
	opts   ConnOptions
	id     uint64
	dialed bool
	ctx    any // set before the Conn is shared
	wbufs  func([][]byte) (int, error)

	mu     sync.Mutex    // serialises callbacks; guards the fields below
	in     buffer.Buffer // inbound bytes
	dirty  bool          // Write was called in the current callback
	closed bool          // OnClose has run
	kill   error         // a callback asked for an immediate close

	wmu     sync.Mutex    // guards the outbound fields below
	out     buffer.Buffer // outbound backlog
	outPos  uint64        // bytes ever queued
	written uint64        // bytes ever written to nc
	marks   []gmark
	files   []gfile // AsyncSendFile ranges, in order with out (like the reactor's fileSeg)
	tail    int     // out bytes queued after the last of files
	writing bool    // a goroutine is writing out; only it reads the head of out
	high    bool

	// Timers, all in Config.Clock's time.
	idle     atomic.Int64 // idle timeout, ns (0: none)
	deadline atomic.Int64 // absolute deadline, Clock UnixNano (0: none)
	lastRead atomic.Int64 // Clock UnixNano of the last read

	tmu    sync.Mutex  // guards the timer fields below
	timer  *time.Timer // fires at the earliest of idle and deadline
	afters []*gafter   // AfterFunc timers not yet fired
	tdead  bool        // the connection closed: arm nothing more

	rmu     sync.Mutex   // guards the Run queue below
	runq    []func(Conn) // Run functions in call order
	running bool         // a goroutine is draining runq

	state    atomic.Uint32
	closeReq atomic.Bool
	reason   atomic.Pointer[closeReason] // set by closeWith from any goroutine
	pending  atomic.Int32
}

// gfile is a file range to send after `before` bytes of out.
type gfile struct {
	f      *os.File
	off, n int64
	before int
}

// gmark is an AsyncWrite waiting for its bytes to reach the socket.
type gmark struct {
	end  uint64
	done WriteDone
	more int32 // messages it counts as beyond the first (AsyncWriteBatch)
}

// gafter is a pending AfterFunc.
type gafter struct {
	t  *time.Timer
	at int64 // Clock UnixNano
	fn func(Conn)
}

type closeReason struct {
	err      error
	graceful bool
}

var _ Conn = (*gconn)(nil)

func newGconn(s *gset, nc net.Conn, opts ConnOptions, dialed bool) *gconn {
	c := &gconn{s: s, e: s.e, nc: nc, opts: opts, id: s.e.nextID.Add(1), ctx: opts.Context, dialed: dialed}
	if wb, ok := nc.(interface{ WriteBuffers([][]byte) (int, error) }); ok {
		c.wbufs = wb.WriteBuffers
	} else {
		c.wbufs = func(b [][]byte) (int, error) {
			nb := net.Buffers(b)
			n, err := nb.WriteTo(nc)
			return int(n), err
		}
	}
	c.in.Init(nil)
	c.out.Init(nil)
	c.idle.Store(int64(s.e.cfg.IdleTimeout))
	return c
}

func (c *gconn) now() int64 { return c.e.cfg.Clock().UnixNano() }

// serve is the connection's goroutine: OnOpen, then read and dispatch until
// an error or a close request, then the close sequence and OnClose.
func (c *gconn) serve() {
	defer c.s.remove(c)
	e := c.e
	c.nc.SetReadDeadline(time.Now().Add(farFuture))
	c.lastRead.Store(c.now())
	c.armTimer()
	c.mu.Lock()
	c.call(func() { e.h.OnOpen(c) })
	c.mu.Unlock()
	c.afterCallback()
	for c.reason.Load() == nil {
		// Read outside mu into a block of our own, not into c.in: a Run
		// function may be reading c.in (under mu) meanwhile.
		rb := gReadPool.Get().(*[]byte)
		n, err := c.nc.Read(*rb)
		if n > 0 && c.reason.Load() == nil {
			c.lastRead.Store(c.now())
			c.s.ctr.reads.Add(1)
			c.s.ctr.bytesRead.Add(uint64(n))
			var herr error
			c.mu.Lock()
			c.in.Write((*rb)[:n])
			gReadPool.Put(rb)
			rb = nil
			c.call(func() { herr = e.h.OnData(c) })
			c.in.Release() // see loop.dispatchData
			overflow := c.in.Len() > e.cfg.MaxInbound
			c.mu.Unlock()
			if herr != nil {
				c.closeWith(herr, true)
			} else if overflow {
				c.closeWith(ErrInboundFull, false)
			}
			c.afterCallback()
		}
		if rb != nil {
			gReadPool.Put(rb)
		}
		if err != nil {
			c.classify(err)
		}
	}
	c.finish()
}

// gReadPool holds the blocks goroutine-served connections read into.
var gReadPool = sync.Pool{New: func() any { b := make([]byte, gReadChunk); return &b }}

// classify records the close reason a read error means, if any. A timeout
// without a close request (a deadline nobody asked for) means none: read
// again.
func (c *gconn) classify(err error) {
	if c.reason.Load() != nil {
		return // a close was requested: serve stops reading
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.nc.SetReadDeadline(time.Now().Add(farFuture))
		return
	}
	if c.opts.ReadError != nil {
		err = c.opts.ReadError(err)
	} else if err != io.EOF {
		err = &OpError{Op: "read", Err: err}
	}
	c.reason.CompareAndSwap(nil, &closeReason{err: err, graceful: err == io.EOF})
}

// closeDeadline is the Deadline of a graceful close.
type closeDeadline struct {
	c     *gconn
	r     *closeReason
	until time.Time
}

func (d *closeDeadline) Expired() bool {
	return d.c.reason.Load() != d.r || time.Now().After(d.until)
}

// finish runs the close sequence on the reading goroutine. The graceful
// part is bounded in real time (closeTimeout), not in Config.Clock's: it
// waits for a peer, and an injected clock that stands still must not make
// it wait forever.
func (c *gconn) finish() {
	e := c.e
	r := c.reason.Load()
	if r == nil {
		r = &closeReason{err: ErrConnClosed}
	}
	c.state.Store(connClosing)
	if r.graceful {
		d := &closeDeadline{c: c, r: r, until: time.Now().Add(closeTimeout)}
		c.nc.SetWriteDeadline(d.until)
		for {
			if c.claimWriter() {
				c.drain()
			}
			c.wmu.Lock()
			empty := c.out.Len() == 0 && len(c.files) == 0 && !c.writing
			written := c.written
			c.wmu.Unlock()
			if d.Expired() {
				break
			}
			if empty {
				if c.opts.Linger != nil {
					c.opts.Linger(written, d)
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
		r = c.reason.Load()
	}
	c.state.Store(connClosed)
	c.stopTimers()
	if c.opts.BeforeClose != nil {
		c.opts.BeforeClose()
	}
	c.nc.Close()
	c.waitWriter()
	c.failMarks()
	e.open.Add(-1)
	c.s.ctr.closedBy[CloseReasonOf(r.err)].Add(1)
	c.mu.Lock()
	c.closed = true
	func() {
		defer func() {
			if p := recover(); p != nil {
				recovered(e.cfg.Logger, &c.s.ctr, "OnClose", c.id, p)
			}
		}()
		e.h.OnClose(c, r.err)
	}()
	c.in.Reset()
	c.mu.Unlock()
	c.wmu.Lock()
	c.out.Reset()
	c.files, c.tail = nil, 0
	c.wmu.Unlock()
	c.rmu.Lock()
	c.runq = nil
	c.rmu.Unlock()
}

// call runs a callback with panic recovery; mu must be held.
func (c *gconn) call(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			stack := recovered(c.e.cfg.Logger, &c.s.ctr, "handler, closing connection", c.id, p)
			if c.kill == nil {
				c.kill = &PanicError{Value: p, Stack: stack}
			}
		}
	}()
	fn()
}

// afterCallback applies a close request and writes what callbacks queued.
// Called without mu held.
func (c *gconn) afterCallback() {
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
		if c.opts.AsyncFlush {
			go c.drain()
		} else {
			c.drain()
		}
	}
}

// closeWith records why the connection closes (the first reason wins) and
// wakes the reader: at once for a hard close (closing nc, which also wakes
// a blocked writer), after the backlog for a graceful one. Any goroutine.
func (c *gconn) closeWith(err error, graceful bool) {
	if c.reason.CompareAndSwap(nil, &closeReason{err: err, graceful: graceful}) || !graceful {
		if !graceful {
			r := c.reason.Load()
			if r.graceful { // escalate a graceful close in progress
				c.reason.Store(&closeReason{err: r.err})
			}
			c.nc.Close()
			return
		}
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// --- timers ---

// armTimer (re)arms the connection's timer for the earliest of its idle
// and absolute deadlines, in Config.Clock's time. Idle time is tracked
// lazily, as on the reactor: reads only record lastRead, and the timer
// re-arms itself when it fires early.
func (c *gconn) armTimer() {
	due := int64(0)
	if idle := c.idle.Load(); idle > 0 {
		due = c.lastRead.Load() + idle
	}
	if d := c.deadline.Load(); d > 0 && (due == 0 || d < due) {
		due = d
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.tdead {
		return
	}
	if due == 0 {
		if c.timer != nil {
			c.timer.Stop()
		}
		return
	}
	wait := time.Duration(due - c.now())
	if c.timer == nil {
		c.timer = time.AfterFunc(wait, c.onTimer)
	} else {
		c.timer.Reset(wait)
	}
}

// onTimer closes the connection if a deadline passed, and re-arms otherwise.
func (c *gconn) onTimer() {
	if c.state.Load() == connClosed {
		return
	}
	now := c.now()
	switch d, idle := c.deadline.Load(), c.idle.Load(); {
	case d > 0 && now >= d:
		c.closeWith(ErrDeadlineExceeded, false)
	case idle > 0 && now-c.lastRead.Load() >= idle && c.state.Load() == connOpen:
		c.closeWith(ErrIdleTimeout, false)
	default:
		c.armTimer()
	}
}

// fireAfters runs the AfterFuncs that are due by Config.Clock, and re-arms
// the others' real-time timers.
func (c *gconn) fireAfters() {
	now := c.now()
	c.tmu.Lock()
	var due []*gafter
	rest := c.afters[:0]
	for _, a := range c.afters {
		if a.at <= now {
			a.t.Stop()
			due = append(due, a)
		} else {
			a.t.Reset(time.Duration(a.at - now))
			rest = append(rest, a)
		}
	}
	clear(c.afters[len(rest):])
	c.afters = rest
	c.tmu.Unlock()
	for _, a := range due {
		c.Run(a.fn)
	}
}

func (c *gconn) stopTimers() {
	c.tmu.Lock()
	c.tdead = true
	if c.timer != nil {
		c.timer.Stop()
	}
	for _, a := range c.afters {
		a.t.Stop()
	}
	c.afters = nil
	c.tmu.Unlock()
}

// --- writing ---

// claimWriter makes the caller the one goroutine writing out, if there is
// work and nobody is.
func (c *gconn) claimWriter() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writing || (c.out.Len() == 0 && len(c.files) == 0) {
		return false
	}
	c.writing = true
	return true
}

// waitWriter waits until no goroutine is writing out. Once nc is closed a
// writer returns at once.
func (c *gconn) waitWriter() {
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

// drain writes the backlog until it is empty; the caller won claimWriter.
// Appends by other goroutines only add chunks after the slices being
// written, which stay valid (see buffer.Buffer.Slices).
func (c *gconn) drain() {
	var bufs [][]byte
	for {
		c.wmu.Lock()
		if len(c.files) > 0 && c.files[0].before == 0 && c.state.Load() != connClosed {
			seg := c.files[0]
			c.wmu.Unlock()
			n, err := io.Copy(c.nc, io.NewSectionReader(seg.f, seg.off, seg.n))
			if err == nil && n < seg.n {
				err = io.ErrUnexpectedEOF
			}
			c.wmu.Lock()
			c.files = c.files[1:]
			if len(c.files) == 0 {
				c.files = nil
			}
			c.written += uint64(n)
			done := c.popMarksLocked()
			c.wmu.Unlock()
			c.s.ctr.writes.Add(1)
			c.s.ctr.bytesWritten.Add(uint64(n))
			c.complete(done, nil)
			if err != nil {
				c.stopWriting()
				c.closeWith(&OpError{Op: "sendfile", Err: err}, false)
				return
			}
			continue
		}
		if (c.out.Len() == 0 && len(c.files) == 0) || c.state.Load() == connClosed {
			c.writing = false
			low := c.high && c.out.Len() < c.e.cfg.WriteLowWater
			if low {
				c.high = false
			}
			c.wmu.Unlock()
			if low {
				c.watermark(false)
			}
			return
		}
		limit := -1
		if len(c.files) > 0 {
			limit = c.files[0].before
		}
		if m := c.opts.MaxWrite; m > 0 && (limit < 0 || m < limit) {
			limit = m
		}
		bufs = c.out.Slices(bufs[:0], limit)
		c.wmu.Unlock()
		n, err := c.wbufs(bufs)
		clear(bufs)
		c.wmu.Lock()
		c.out.Discard(n)
		c.written += uint64(n)
		if len(c.files) > 0 {
			c.files[0].before -= n
		}
		done := c.popMarksLocked()
		c.wmu.Unlock()
		if n > 0 {
			c.s.ctr.writes.Add(1)
			c.s.ctr.bytesWritten.Add(uint64(n))
		}
		c.complete(done, nil)
		if err != nil {
			c.stopWriting()
			c.closeWith(&OpError{Op: "write", Err: err}, false)
			return
		}
	}
}

func (c *gconn) stopWriting() {
	c.wmu.Lock()
	c.writing = false
	c.wmu.Unlock()
}

// popMarksLocked removes and returns the writes now complete; wmu held.
func (c *gconn) popMarksLocked() []gmark {
	i := 0
	for i < len(c.marks) && c.marks[i].end <= c.written {
		i++
	}
	if i == 0 {
		return nil
	}
	done := append([]gmark(nil), c.marks[:i]...)
	c.marks = append(c.marks[:0], c.marks[i:]...)
	return done
}

// appendOutLocked queues bytes after everything queued; wmu held.
func (c *gconn) appendOutLocked(p []byte) {
	c.out.Write(p)
	if len(c.files) > 0 {
		c.tail += len(p)
	}
}

// complete settles finished AsyncWrites. Their done callbacks run under mu,
// serialised with the connection's other callbacks as on the reactor's
// loop; the caller (a writer, never inside a callback) holds no lock.
func (c *gconn) complete(ms []gmark, err error) {
	locked := false
	for _, m := range ms {
		c.pending.Add(-1 - m.more)
		c.e.pending.Add(-1 - int64(m.more))
		if m.done == nil {
			continue
		}
		if !locked {
			c.mu.Lock()
			locked = true
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					recovered(c.e.cfg.Logger, &c.s.ctr, "write callback", c.id, p)
				}
			}()
			m.done(c, err)
		}()
	}
	if locked {
		c.mu.Unlock()
		c.afterCallback()
	}
}

func (c *gconn) failMarks() {
	c.wmu.Lock()
	ms := c.marks
	c.marks = nil
	c.wmu.Unlock()
	c.complete(ms, ErrConnClosed)
}

func (c *gconn) watermark(high bool) {
	wm, ok := c.e.h.(WatermarkHandler)
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

func (c *gconn) InboundBuffered() int { return c.in.Len() }

func (c *gconn) Peek(n int) ([]byte, error) { return peekIn(&c.in, n) }
func (c *gconn) Next(n int) ([]byte, error) { return nextIn(&c.in, n) }
func (c *gconn) Discard(n int) (int, error) { return discardIn(&c.in, n) }

// --- outbound ---

func (c *gconn) OutboundBuffered() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.out.Len()
}

func (c *gconn) Write(p []byte) (int, error) {
	if c.closed || c.kill != nil {
		return 0, ErrConnClosed
	}
	c.wmu.Lock()
	if c.out.Len()+len(p) > c.e.cfg.MaxOutbound {
		c.wmu.Unlock()
		c.kill = ErrOutboundFull
		return 0, ErrOutboundFull
	}
	c.appendOutLocked(p)
	c.outPos += uint64(len(p))
	high := c.checkHighLocked()
	c.wmu.Unlock()
	c.dirty = true
	if high {
		if wm, ok := c.e.h.(WatermarkHandler); ok {
			c.call(func() { wm.OnWatermark(c, true) })
		}
	}
	return len(p), nil
}

func (c *gconn) checkHighLocked() bool {
	if !c.high && c.out.Len() > c.e.cfg.WriteHighWater {
		c.high = true
		return true
	}
	return false
}

func (c *gconn) Writev(bufs [][]byte) (int, error) { return writeEach(c.Write, bufs) }

func (c *gconn) AsyncWrite(p []byte, done WriteDone) error {
	return c.asyncWrite(p, nil, 1, done)
}

func (c *gconn) AsyncWritev(bufs [][]byte, done WriteDone) error {
	return c.asyncWrite(nil, bufs, 1, done)
}

func (c *gconn) AsyncWriteBatch(bufs [][]byte, n int, done WriteDone) error {
	return c.asyncWrite(nil, bufs, max(n, 1), done)
}

// AsyncSendFile queues a file range after everything queued; it is copied
// to the net.Conn through a section reader (the file's offset untouched).
func (c *gconn) AsyncSendFile(f *os.File, off, n int64, done WriteDone) error {
	if done == nil {
		return ErrNilDone
	}
	if c.state.Load() != connOpen || c.closeReq.Load() {
		return ErrConnClosed
	}
	e := c.e
	if !e.reservePending(1) {
		return ErrOverloaded
	}
	c.wmu.Lock()
	before := c.out.Len()
	if len(c.files) > 0 {
		before = c.tail
	}
	if n > 0 {
		c.files = append(c.files, gfile{f: f, off: off, n: n, before: before})
		c.tail = 0
		c.outPos += uint64(n)
	}
	c.marks = append(c.marks, gmark{end: c.outPos, done: done})
	c.pending.Add(1)
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start {
		go c.drain()
	}
	return nil
}

// asyncWrite queues p and bufs as one write that counts as n messages.
func (c *gconn) asyncWrite(p []byte, bufs [][]byte, n int, done WriteDone) error {
	if c.state.Load() != connOpen || c.closeReq.Load() {
		return ErrConnClosed
	}
	e := c.e
	if !e.reservePending(int64(n)) {
		return ErrOverloaded
	}
	if max := e.cfg.MaxPendingPerConn; max > 0 && int(c.pending.Load())+n > max {
		e.pending.Add(-int64(n))
		c.closeWith(ErrOutboundFull, false)
		return ErrOutboundFull
	}
	size := len(p)
	for _, b := range bufs {
		size += len(b)
	}
	c.wmu.Lock()
	if c.out.Len()+size > e.cfg.MaxOutbound {
		c.wmu.Unlock()
		e.pending.Add(-int64(n))
		c.closeWith(ErrOutboundFull, false)
		return ErrOutboundFull
	}
	c.appendOutLocked(p)
	for _, b := range bufs {
		c.appendOutLocked(b)
	}
	c.outPos += uint64(size)
	c.marks = append(c.marks, gmark{end: c.outPos, done: done, more: int32(n - 1)})
	c.pending.Add(int32(n))
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

func (c *gconn) SetIdleTimeout(d time.Duration) {
	c.idle.Store(int64(max(d, 0)))
	c.armTimer()
}

func (c *gconn) SetDeadline(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(max(t.UnixNano(), 1))
	}
	c.armTimer()
}

func (c *gconn) SetContext(ctx any) { c.ctx = ctx }
func (c *gconn) Context() any       { return c.ctx }

// Run queues fn behind the Run functions queued before it; one goroutine at
// a time runs the queue, so functions run in the order Run was called.
func (c *gconn) Run(fn func(Conn)) error {
	if c.state.Load() == connClosed {
		return ErrConnClosed
	}
	c.rmu.Lock()
	c.runq = append(c.runq, fn)
	start := !c.running
	c.running = true
	c.rmu.Unlock()
	if start {
		go c.runQueue()
	}
	return nil
}

func (c *gconn) runQueue() {
	for {
		c.rmu.Lock()
		if len(c.runq) == 0 {
			c.running = false
			c.runq = nil
			c.rmu.Unlock()
			return
		}
		fn := c.runq[0]
		c.runq[0] = nil
		c.runq = c.runq[1:]
		c.rmu.Unlock()
		c.mu.Lock()
		if !c.closed {
			c.call(func() { fn(c) })
		}
		c.mu.Unlock()
		c.afterCallback()
	}
}

// AfterFunc runs fn with the connection's callbacks once d has passed on
// Config.Clock. The timer is stopped when the connection closes.
func (c *gconn) AfterFunc(d time.Duration, fn func(Conn)) error {
	if c.state.Load() == connClosed {
		return ErrConnClosed
	}
	a := &gafter{at: c.now() + int64(d), fn: fn}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.tdead {
		return ErrConnClosed
	}
	a.t = time.AfterFunc(d, c.fireAfters)
	c.afters = append(c.afters, a)
	return nil
}

func (c *gconn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	c.state.CompareAndSwap(connOpen, connClosing)
	c.closeWith(nil, true)
	return nil
}

func (c *gconn) Pending() int         { return int(c.pending.Load()) }
func (c *gconn) ID() uint64           { return c.id }
func (c *gconn) Loop() int            { return 0 }
func (c *gconn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *gconn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
