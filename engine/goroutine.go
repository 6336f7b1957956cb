package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"wharf/buffer"
)

// goroutineEngine serves each connection on its own goroutine with the
// standard net package (the seeds' coroutine model: blocking code, the
// runtime's netpoller underneath). Callbacks of one connection are
// serialised by the connection's mutex.
type goroutineEngine struct {
	e   *Engine
	ctr counters

	mu       sync.Mutex // guards the fields below
	conns    map[*gconn]struct{}
	started  bool
	closing  bool
	pending  []*listener // listeners added before start
	tickStop chan struct{}

	accepts sync.WaitGroup // accept goroutines
	serving sync.WaitGroup // connection goroutines and the ticker
}

func newGoroutineEngine(e *Engine) backend {
	return &goroutineEngine{e: e, conns: make(map[*gconn]struct{})}
}

func (g *goroutineEngine) start() error {
	g.mu.Lock()
	g.started = true
	ls := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, l := range ls {
		g.accepts.Add(1)
		go g.acceptLoop(l)
	}
	if t, ok := g.e.h.(Ticker); ok && g.e.cfg.TickInterval > 0 {
		g.tickStop = make(chan struct{})
		g.serving.Add(1)
		go g.tickLoop(t, g.tickStop)
	}
	return nil
}

func (g *goroutineEngine) tickLoop(t Ticker, stop chan struct{}) {
	defer g.serving.Done()
	tk := time.NewTicker(g.e.cfg.TickInterval)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			func() {
				defer func() {
					if r := recover(); r != nil {
						g.ctr.panics.Add(1)
						g.e.cfg.Logger.Error("engine: panic in OnTick", "panic", r, "stack", string(debug.Stack()))
					}
				}()
				t.OnTick(0, g.e.cfg.Clock())
			}()
		}
	}
}

func (g *goroutineEngine) addListener(l *listener) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return ErrEngineClosed
	}
	if !g.started {
		g.pending = append(g.pending, l)
		return nil
	}
	g.accepts.Add(1)
	go g.acceptLoop(l)
	return nil
}

func (g *goroutineEngine) acceptLoop(l *listener) {
	defer g.accepts.Done()
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off instead of spinning.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			g.e.cfg.Logger.Warn("engine: accept", "addr", l.addr.String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if max := g.e.cfg.MaxConns; max > 0 && g.e.open.Add(1) > int64(max) {
			g.e.open.Add(-1)
			g.ctr.rejected.Add(1) // counted before the peer can see the close
			nc.Close()
			continue
		} else if max <= 0 {
			g.e.open.Add(1)
		}
		g.ctr.accepted.Add(1)
		g.serveConn(nc, nil, false)
	}
}

func (g *goroutineEngine) serveConn(nc net.Conn, ctx any, dialed bool) *gconn {
	g.setSockopts(nc)
	c := &gconn{g: g, nc: nc, id: g.e.nextID.Add(1), ctx: ctx, dialed: dialed}
	c.in.Init(nil)
	c.out.Init(nil)
	c.idle.Store(int64(g.e.cfg.IdleTimeout))
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		nc.Close()
		c.state.Store(connClosed)
		g.e.open.Add(-1)
		return c
	}
	g.conns[c] = struct{}{}
	g.serving.Add(1)
	g.mu.Unlock()
	go c.serve()
	return c
}

func (g *goroutineEngine) setSockopts(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	cfg := &g.e.cfg
	tc.SetNoDelay(!cfg.TCPDelay)
	if cfg.TCPKeepAlive > 0 {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(cfg.TCPKeepAlive)
	} else {
		// net.Listen and net.Dial turn keep-alive on (15s) by default;
		// the engine's default is off, for accepted and dialed alike.
		tc.SetKeepAlive(false)
	}
	if cfg.SocketRecvBuffer > 0 {
		tc.SetReadBuffer(cfg.SocketRecvBuffer)
	}
	if cfg.SocketSendBuffer > 0 {
		tc.SetWriteBuffer(cfg.SocketSendBuffer)
	}
	switch {
	case cfg.Linger < 0:
		tc.SetLinger(0)
	case cfg.Linger > 0:
		tc.SetLinger(int((cfg.Linger + time.Second - 1) / time.Second))
	}
}

func (g *goroutineEngine) stopAccepting() {
	// Engine.StopAccepting closes the listeners; wait for the accept loops.
	g.mu.Lock()
	ls := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, l := range ls {
		l.close()
	}
}

func (g *goroutineEngine) shutdown(ctx context.Context) error {
	g.accepts.Wait()
	g.mu.Lock()
	g.closing = true
	conns := make([]*gconn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	if g.tickStop != nil {
		close(g.tickStop)
		g.tickStop = nil
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.closeWith(ErrEngineClosed, true)
	}
	exited := make(chan struct{})
	go func() { g.serving.Wait(); close(exited) }()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.closeWith(ErrEngineClosed, false)
		}
		<-exited
		return ctx.Err()
	}
}

func (g *goroutineEngine) dial(ctx context.Context, network, address string, opts DialOptions) (Conn, error) {
	d := net.Dialer{Timeout: opts.Timeout, Control: opts.Control, KeepAlive: -1} // see setSockopts
	if opts.LocalAddr != "" {
		la, err := resolveLocal(network, opts.LocalAddr)
		if err != nil {
			return nil, err
		}
		d.LocalAddr = la
	}
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, &OpError{Op: "dial " + network + " " + address, Err: err}
	}
	if max := g.e.cfg.MaxConns; max > 0 && g.e.open.Add(1) > int64(max) {
		g.e.open.Add(-1)
		nc.Close()
		return nil, ErrTooManyConns
	} else if max <= 0 {
		g.e.open.Add(1)
	}
	g.ctr.dialed.Add(1)
	return g.serveConn(nc, opts.Context, true), nil
}

func (g *goroutineEngine) stats(s *Stats) {
	g.ctr.addTo(s)
	g.mu.Lock()
	s.Slots = int64(len(g.conns))
	g.mu.Unlock()
}

func (g *goroutineEngine) each(fn func(c Conn)) {
	g.mu.Lock()
	conns := make([]*gconn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		if !c.closed && c.reason.Load() == nil {
			c.call(func() { fn(c) })
		}
		c.mu.Unlock()
		c.afterCallback()
	}
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
}

// gconn is a goroutine-engine connection. Its reader goroutine (serve) owns
// the lifecycle; callbacks run under mu.
type gconn struct {
	g      *goroutineEngine
	nc     net.Conn
	id     uint64
	dialed bool
	ctx    any // set before the Conn is shared

	mu     sync.Mutex    // serialises callbacks; guards the fields below
	in     buffer.Buffer // inbound bytes; the reader fills it outside mu only while no callback runs
	dirty  bool          // Write was called in the current callback
	closed bool          // OnClose has run
	kill   error         // a callback asked for an immediate close

	wmu     sync.Mutex    // guards the outbound fields below
	out     buffer.Buffer // outbound backlog
	outPos  uint64        // bytes ever queued
	written uint64        // bytes ever written
	marks   []gmark
	files   []gfile // AsyncSendFile ranges, in order with out (like the reactor's fileSeg)
	tail    int     // out bytes queued after the last of files
	writing bool    // a goroutine is writing out; only it reads the head of out
	high    bool

	idle     atomic.Int64 // idle timeout, ns
	deadline atomic.Int64 // absolute deadline, UnixNano (0: none)
	lastRead atomic.Int64 // UnixNano of the last read

	state    atomic.Uint32
	closeReq atomic.Bool
	reason   atomic.Pointer[closeReason] // set by closeWith from any goroutine
	pending  atomic.Int32
}

type closeReason struct {
	err      error
	graceful bool
}

var _ Conn = (*gconn)(nil)

// serve is the connection's goroutine: OnOpen, then read and dispatch until
// an error or a close request, then the close sequence and OnClose.
func (c *gconn) serve() {
	g := c.g
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		g.serving.Done()
	}()
	c.lastRead.Store(time.Now().UnixNano())
	c.mu.Lock()
	c.call(func() { g.e.h.OnOpen(c) })
	c.mu.Unlock()
	c.afterCallback()
	var region [1][]byte
	for c.reason.Load() == nil {
		c.setReadDeadline()
		bufs := c.in.Reserve(4096, region[:0])
		n, err := c.nc.Read(bufs[0])
		c.in.Commit(n)
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			g.ctr.reads.Add(1)
			g.ctr.bytesRead.Add(uint64(n))
			var herr error
			c.mu.Lock()
			c.call(func() { herr = g.e.h.OnData(c) })
			c.in.Release() // see loop.dispatchData
			overflow := c.in.Len() > g.e.cfg.MaxInbound
			c.mu.Unlock()
			if herr != nil {
				c.closeWith(herr, true)
			} else if overflow {
				c.closeWith(ErrInboundFull, false)
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
func (c *gconn) classify(err error) {
	if c.reason.Load() != nil {
		return // a close was requested: serve stops reading
	}
	if err == io.EOF {
		c.reason.CompareAndSwap(nil, &closeReason{err: io.EOF, graceful: true})
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		now := time.Now().UnixNano()
		if d := c.deadline.Load(); d > 0 && now >= d {
			c.reason.CompareAndSwap(nil, &closeReason{err: ErrDeadlineExceeded})
		} else if idle := c.idle.Load(); idle > 0 && now-c.lastRead.Load() >= idle {
			c.reason.CompareAndSwap(nil, &closeReason{err: ErrIdleTimeout})
		}
		return
	}
	c.reason.CompareAndSwap(nil, &closeReason{err: &OpError{Op: "read", Err: err}})
}

// finish runs the close sequence on the reader goroutine.
func (c *gconn) finish() {
	r := c.reason.Load()
	if r == nil {
		r = &closeReason{err: ErrConnClosed}
	}
	c.state.Store(connClosing)
	if r.graceful {
		deadline := time.Now().Add(closeTimeout)
		c.nc.SetWriteDeadline(deadline)
		for {
			if c.claimWriter() {
				c.drain()
			}
			c.wmu.Lock()
			empty := c.out.Len() == 0 && !c.writing
			c.wmu.Unlock()
			if empty || time.Now().After(deadline) || c.reason.Load() != r {
				break
			}
			time.Sleep(time.Millisecond)
		}
		r = c.reason.Load()
	}
	c.state.Store(connClosed)
	c.nc.Close()
	c.failMarks()
	g := c.g
	g.e.open.Add(-1)
	g.ctr.closedBy[CloseReasonOf(r.err)].Add(1)
	c.mu.Lock()
	c.closed = true
	func() {
		defer func() {
			if p := recover(); p != nil {
				g.ctr.panics.Add(1)
				g.e.cfg.Logger.Error("engine: panic in OnClose", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		g.e.h.OnClose(c, r.err)
	}()
	c.in.Reset()
	c.mu.Unlock()
	c.wmu.Lock()
	c.out.Reset()
	c.files, c.tail = nil, 0
	c.wmu.Unlock()
}

// call runs a callback with panic recovery; mu must be held.
func (c *gconn) call(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			c.g.ctr.panics.Add(1)
			c.g.e.cfg.Logger.Error("engine: panic in handler, closing connection", "conn", c.id, "panic", p, "stack", string(stack))
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
		c.drain()
	}
}

// closeWith records why the connection closes (the first reason wins) and
// wakes the reader: at once for a hard close, after the backlog for a
// graceful one.
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

func (c *gconn) setReadDeadline() {
	var t int64
	if idle := c.idle.Load(); idle > 0 {
		t = c.lastRead.Load() + idle
	}
	if d := c.deadline.Load(); d > 0 && (t == 0 || d < t) {
		t = d
	}
	if t == 0 {
		c.nc.SetReadDeadline(time.Time{})
	} else {
		c.nc.SetReadDeadline(time.Unix(0, t))
	}
}

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

// drain writes the backlog until it is empty; the caller won claimWriter.
// Appends by other goroutines only add chunks after the slices being
// written, which stay valid (see buffer.Buffer.Slices).
func (c *gconn) drain() {
	var bufs net.Buffers
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
			c.g.ctr.writes.Add(1)
			c.g.ctr.bytesWritten.Add(uint64(n))
			c.complete(done, nil)
			if err != nil {
				c.wmu.Lock()
				c.writing = false
				c.wmu.Unlock()
				c.closeWith(&OpError{Op: "sendfile", Err: err}, false)
				return
			}
			continue
		}
		if (c.out.Len() == 0 && len(c.files) == 0) || c.state.Load() == connClosed {
			c.writing = false
			low := c.high && c.out.Len() < c.g.e.cfg.WriteLowWater
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
		bufs = net.Buffers(c.out.Slices(bufs[:0], limit))
		c.wmu.Unlock()
		wb := bufs
		n, err := wb.WriteTo(c.nc)
		clear(bufs)
		c.wmu.Lock()
		c.out.Discard(int(n))
		c.written += uint64(n)
		if len(c.files) > 0 {
			c.files[0].before -= int(n)
		}
		done := c.popMarksLocked()
		c.wmu.Unlock()
		if n > 0 {
			c.g.ctr.writes.Add(1)
			c.g.ctr.bytesWritten.Add(uint64(n))
		}
		c.complete(done, nil)
		if err != nil {
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			c.closeWith(&OpError{Op: "write", Err: err}, false)
			return
		}
	}
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

func (c *gconn) complete(ms []gmark, err error) {
	for _, m := range ms {
		c.pending.Add(-1)
		c.g.e.pending.Add(-1)
		if m.done != nil {
			func() {
				defer func() {
					if p := recover(); p != nil {
						c.g.ctr.panics.Add(1)
						c.g.e.cfg.Logger.Error("engine: panic in write callback", "conn", c.id, "panic", p)
					}
				}()
				m.done(c, err)
			}()
		}
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
	wm, ok := c.g.e.h.(WatermarkHandler)
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

func (c *gconn) Peek(n int) ([]byte, error) {
	if n <= 0 {
		n = c.in.Len()
	}
	return c.in.Peek(n)
}

func (c *gconn) Next(n int) ([]byte, error) {
	if n <= 0 {
		n = c.in.Len()
	}
	if n > c.in.Len() {
		p, _ := c.in.Next(c.in.Len())
		return p, io.ErrShortBuffer
	}
	return c.in.Next(n)
}

func (c *gconn) Discard(n int) (int, error) {
	if n <= 0 {
		n = c.in.Len()
	}
	return c.in.Discard(n)
}

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
	if c.out.Len()+len(p) > c.g.e.cfg.MaxOutbound {
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
		if wm, ok := c.g.e.h.(WatermarkHandler); ok {
			c.call(func() { wm.OnWatermark(c, true) })
		}
	}
	return len(p), nil
}

func (c *gconn) checkHighLocked() bool {
	if !c.high && c.out.Len() > c.g.e.cfg.WriteHighWater {
		c.high = true
		return true
	}
	return false
}

func (c *gconn) Writev(bufs [][]byte) (int, error) {
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

func (c *gconn) AsyncWrite(p []byte, done WriteDone) error {
	return c.asyncWrite(p, nil, done)
}

func (c *gconn) AsyncWritev(bufs [][]byte, done WriteDone) error {
	return c.asyncWrite(nil, bufs, done)
}

// AsyncSendFile queues a file range after everything queued; the goroutine
// engine copies it through a section reader (the file's offset untouched).
func (c *gconn) AsyncSendFile(f *os.File, off, n int64, done WriteDone) error {
	if done == nil {
		return errNilDone
	}
	if c.state.Load() != connOpen || c.closeReq.Load() {
		return ErrConnClosed
	}
	e := c.g.e
	if max := e.cfg.MaxPendingTotal; max > 0 && e.pending.Load() >= int64(max) {
		e.overload.Add(1)
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
	e.pending.Add(1)
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start {
		go c.drain()
	}
	return nil
}

func (c *gconn) asyncWrite(p []byte, bufs [][]byte, done WriteDone) error {
	if c.state.Load() != connOpen || c.closeReq.Load() {
		return ErrConnClosed
	}
	e := c.g.e
	if max := e.cfg.MaxPendingTotal; max > 0 && e.pending.Load() >= int64(max) {
		e.overload.Add(1)
		return ErrOverloaded
	}
	if max := e.cfg.MaxPendingPerConn; max > 0 && int(c.pending.Load()) >= max {
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
		c.closeWith(ErrOutboundFull, false)
		return ErrOutboundFull
	}
	c.appendOutLocked(p)
	for _, b := range bufs {
		c.appendOutLocked(b)
	}
	c.outPos += uint64(size)
	c.marks = append(c.marks, gmark{end: c.outPos, done: done})
	c.pending.Add(1)
	e.pending.Add(1)
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
	c.setReadDeadline()
}

func (c *gconn) SetDeadline(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(max(t.UnixNano(), 1))
	}
	c.setReadDeadline()
}

func (c *gconn) SetContext(ctx any) { c.ctx = ctx }
func (c *gconn) Context() any       { return c.ctx }

func (c *gconn) Run(fn func(Conn)) error {
	if c.state.Load() == connClosed {
		return ErrConnClosed
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

func (c *gconn) AfterFunc(d time.Duration, fn func(Conn)) error {
	if c.state.Load() == connClosed {
		return ErrConnClosed
	}
	time.AfterFunc(d, func() { c.Run(fn) })
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
