package engine

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
	"wharf/timingwheel"
)

// Epoll data slots: connections use their index (>= 0) in loop.conns; the
// eventfd and listeners use negative slots.
const (
	slotEventfd  = math.MinInt32
	maxEvents    = 1024
	acceptBatch  = 128 // accepts per listener event, so one busy listener cannot starve the loop's connections
	pauseOnEMFIL = 100 * time.Millisecond
	closeTimeout = 10 * time.Second // longest a graceful close waits for the outbound backlog
	// readReserve is what one read into a connection buffer reserves: the
	// free tail plus at most one fresh chunk, so a read costs at most one
	// pool round trip (a full read is simply followed by another event).
	readReserve = 1
)

type loopState uint8

const (
	loopIdle loopState = iota
	loopRunning
	loopDead
)

type taskKind uint8

const (
	taskWrite    taskKind = iota // AsyncWrite / AsyncWritev
	taskRun                      // Conn.Run
	taskAfter                    // Conn.AfterFunc
	taskClose                    // Conn.Close (graceful)
	taskKill                     // hard close with err (limits)
	taskRegister                 // adopt an accepted or dialed connection
	taskCall                     // internal: run call on the loop, then close ack
	taskShutdown                 // begin graceful shutdown
	taskForce                    // close everything now
	taskSendFile                 // Conn.AsyncSendFile
)

// task is work handed to a loop by another goroutine.
type task struct {
	kind taskKind
	c    *conn
	buf  []byte
	bufs [][]byte
	done WriteDone
	fn   func(Conn)
	call func(*loop)
	d    time.Duration
	err  error
	ack  chan struct{}
	file *os.File // taskSendFile
	off  int64
	n    int64
	more int32 // taskWrite: messages it counts as beyond the first (AsyncWriteBatch)
}

// listenFd is a listening socket served by one loop.
type listenFd struct {
	fd     int
	ln     *listener
	paused bool
	resume timingwheel.Timer // re-enables accept after EMFILE
	warned time.Time         // last "accept paused" log line (rate limit)
}

// shedOne accepts one connection with the loop's reserve descriptor and
// closes it at once, for when the process is out of descriptors. It reports
// false when there is no reserve or nothing to accept.
func (l *loop) shedOne(lf *listenFd) bool {
	if l.reserve < 0 {
		return false
	}
	unix.Close(l.reserve)
	l.reserve = -1
	fd, _, err := poll.Accept(lf.fd)
	if err == nil {
		l.ctr.rejected.Add(1)
		unix.Close(fd)
	}
	l.reserve, _ = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if now := l.nowTime; err == nil && now.Sub(lf.warned) > 10*time.Second {
		lf.warned = now
		l.log.Warn("engine: out of file descriptors, closing new connections", "addr", lf.ln.addr.String())
	}
	return err == nil
}

// loop is one event loop. Everything not marked otherwise is owned by the
// loop's goroutine.
type loop struct {
	idx    int
	r      *reactor
	e      *Engine
	cfg    *Config
	h      Handler
	wm     WatermarkHandler // h as WatermarkHandler, or nil
	ticker Ticker           // h as Ticker, or nil
	log    *slog.Logger

	poller   *poll.Poller
	efd      int
	reserve  int // a spare descriptor (/dev/null), freed to shed connections on EMFILE
	events   []poll.Event
	rbuf     []byte // per-loop read buffer (ReadLoopBuffer)
	view     []byte // the unconsumed part of rbuf during viewConn's OnData
	viewConn *conn
	iov      poll.IovecBuf
	scratch  [][]byte

	conns  []*conn // slot table; nil entries are free
	free   []int32 // free slots
	seq    uint32  // next sequence number; stamps every registration
	nconns atomic.Int64
	lfds   []*listenFd

	wheel   *timingwheel.Wheel
	base    time.Time // time of loop creation; now is nanoseconds since it
	now     int64
	nowTime time.Time
	tick    timingwheel.Timer

	dirty   []*conn        // connections with unflushed outbound bytes
	writes  []pendingWrite // AsyncWrites appended this round, settled after the flush
	running []task         // tasks being run (swapped with tasks)
	closing bool           // shutdown started: no new connections, exit when empty

	mu          sync.Mutex // guards tasks and state
	tasks       []task
	state       loopState
	ntask       atomic.Int32 // len(tasks), readable without mu
	sleeping    atomic.Bool  // the loop is (about to be) blocked in epoll_wait
	wakePending atomic.Bool  // an eventfd write is outstanding

	ctr counters
	// Gauges published by the loop once per iteration for Stats.
	gSlots, gFree, gTimers atomic.Int64
}

func newLoop(r *reactor, idx int) (*loop, error) {
	cfg := &r.e.cfg
	l := &loop{
		idx:     idx,
		r:       r,
		e:       r.e,
		cfg:     cfg,
		h:       r.e.h,
		log:     cfg.Logger,
		efd:     -1,
		reserve: -1,
		events:  make([]poll.Event, maxEvents),
		base:    cfg.Clock(),
	}
	l.wm, _ = l.h.(WatermarkHandler)
	l.ticker, _ = l.h.(Ticker)
	if cfg.ReadMode == ReadLoopBuffer {
		l.rbuf = make([]byte, cfg.ReadBufferSize)
	}
	l.nowTime = l.base
	l.wheel = timingwheel.New(timingwheel.Config{Tick: cfg.TimerResolution, Clock: cfg.Clock})
	var err error
	newPoller := poll.NewParkingPoller
	if cfg.BlockingWait {
		newPoller = poll.NewPoller
	}
	if l.poller, err = newPoller(); err != nil {
		return nil, &OpError{Op: "epoll_create", Err: err}
	}
	if l.efd, err = poll.NewEventfd(); err != nil {
		l.poller.Close()
		return nil, &OpError{Op: "eventfd", Err: err}
	}
	if err = l.poller.Add(l.efd, poll.EventIn, slotEventfd, 0); err != nil {
		l.closeFds()
		return nil, &OpError{Op: "epoll_ctl eventfd", Err: err}
	}
	l.reserve, _ = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	return l, nil
}

// closeFds closes the loop's descriptors; the loop is not running (it
// exited, or never started).
func (l *loop) closeFds() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.efd >= 0 {
		unix.Close(l.efd)
		l.efd = -1
	}
	if l.reserve >= 0 {
		unix.Close(l.reserve)
		l.reserve = -1
	}
	if l.poller != nil {
		l.poller.Close()
		l.poller = nil
	}
}

// push hands t to the loop from any goroutine and wakes the loop if it
// sleeps. It reports whether the loop is running; a task pushed before the
// loop starts runs when it starts, and one pushed after it exited is
// completed at once on the caller's goroutine.
func (l *loop) push(t task) bool {
	l.mu.Lock()
	if l.state == loopDead {
		l.mu.Unlock()
		l.runDead(&t)
		return false
	}
	l.tasks = append(l.tasks, t)
	l.ntask.Store(int32(len(l.tasks)))
	running := l.state == loopRunning
	// The loop sets sleeping before it re-checks ntask and blocks, so either
	// it sees our task or we see it sleeping. wakePending makes a burst of
	// pushes cost one eventfd write. The write happens under mu: closeFds
	// takes mu after the loop is dead, so the eventfd is never written
	// after it is closed (and its number perhaps reused).
	var err error
	if running && l.sleeping.Load() && l.wakePending.CompareAndSwap(false, true) {
		err = poll.WakeEventfd(l.efd)
	}
	l.mu.Unlock()
	if err != nil {
		l.log.Error("engine: wake loop", "loop", l.idx, "err", err)
	}
	return running
}

// callSync runs fn on the loop and waits for it; before the loop runs it is
// queued, after the loop exited it runs on the caller.
func (l *loop) callSync(fn func(*loop)) {
	ack := make(chan struct{})
	if l.push(task{kind: taskCall, call: fn, ack: ack}) {
		<-ack
	}
}

// runDead completes a task that arrived after the loop exited.
func (l *loop) runDead(t *task) {
	switch t.kind {
	case taskWrite:
		l.e.pending.Add(-1 - int64(t.more))
		t.c.pending.Add(-1 - t.more)
		if t.done != nil {
			t.done(t.c, ErrConnClosed)
		}
	case taskRegister:
		unix.Close(t.c.fd)
		t.c.state.Store(connClosed)
		l.e.open.Add(-1)
	case taskCall:
		t.call(l)
		if t.ack != nil {
			close(t.ack)
		}
	}
}

func (l *loop) run() {
	defer l.r.wg.Done()
	if l.cfg.LockOSThread {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	l.mu.Lock()
	l.state = loopRunning
	l.mu.Unlock()
	l.updateNow()
	if l.ticker != nil && l.cfg.TickInterval > 0 {
		l.tick.Init(l.onTick)
		l.wheel.Schedule(&l.tick, l.nowTime.Add(l.cfg.TickInterval))
	}
	for {
		timeout := l.waitTimeout()
		if timeout != 0 {
			// Let goroutines this iteration made runnable (handlers the
			// callbacks handed work to) run before the loop sleeps, so
			// their replies are queued before it decides to: otherwise
			// each would cost an eventfd wake-up, and with BlockingWait
			// (epoll_wait keeps its P until sysmon takes it back) a wait
			// of 20µs or more with GOMAXPROCS=1. Cheap when nothing is
			// runnable.
			runtime.Gosched()
			timeout = l.waitTimeout()
		}
		if timeout != 0 {
			l.sleeping.Store(true)
			if l.ntask.Load() > 0 {
				timeout = 0
			}
		}
		n, err := l.poller.Wait(l.events, timeout)
		if timeout != 0 {
			l.sleeping.Store(false)
		}
		if err != nil {
			l.log.Error("engine: epoll_wait", "loop", l.idx, "err", err)
			time.Sleep(10 * time.Millisecond)
		}
		l.updateNow()
		start := l.now
		if n > 0 {
			l.ctr.polls.Add(1)
			for i := 0; i < n; i++ {
				l.handle(&l.events[i])
			}
		}
		if l.ntask.Load() > 0 {
			l.runTasks()
		}
		l.wheel.Advance(l.nowTime)
		l.flushDirty()
		if n > 0 {
			l.ctr.busyNanos.Add(int64(l.cfg.Clock().Sub(l.base)) - start)
		}
		l.gSlots.Store(int64(len(l.conns)))
		l.gFree.Store(int64(len(l.free)))
		l.gTimers.Store(int64(l.wheel.Len()))
		if l.closing && l.nconns.Load() == 0 {
			break
		}
	}
	l.exit()
}

// exit marks the loop dead and completes what is still queued.
func (l *loop) exit() {
	l.mu.Lock()
	l.state = loopDead
	rest := l.tasks
	l.tasks = nil
	l.ntask.Store(0)
	l.mu.Unlock()
	for i := range rest {
		l.runDead(&rest[i])
	}
	l.closeListeners()
}

func (l *loop) updateNow() {
	l.nowTime = l.cfg.Clock()
	l.now = int64(l.nowTime.Sub(l.base))
}

// waitTimeout is the epoll_wait timeout in milliseconds: 0 with tasks
// queued, until the next timer otherwise, -1 (forever) with no timers.
func (l *loop) waitTimeout() int {
	if l.ntask.Load() > 0 {
		return 0
	}
	next, ok := l.wheel.NextExpiry()
	if !ok {
		return -1
	}
	d := next.Sub(l.nowTime)
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(ms)
}

func (l *loop) handle(ev *poll.Event) {
	slot, seq := poll.Unpack(ev)
	switch {
	case slot >= 0:
		if int(slot) >= len(l.conns) {
			return
		}
		c := l.conns[slot]
		// A connection closed earlier in this batch left a nil slot or a
		// new connection with a new sequence: the event is stale.
		if c == nil || c.seq != seq {
			return
		}
		l.connEvent(c, ev.Events)
	case slot == slotEventfd:
		poll.DrainEventfd(l.efd)
		l.wakePending.Store(false)
		l.ctr.wakeups.Add(1)
	default:
		i := int(-1 - slot)
		if i < len(l.lfds) && l.lfds[i] != nil {
			l.accept(l.lfds[i])
		}
	}
}

func (l *loop) connEvent(c *conn, ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !c.closing {
		l.read(c)
		if c.closed {
			return
		}
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.hasOutput() {
		l.flush(c)
	}
}

func (l *loop) read(c *conn) {
	var (
		n   int
		err error
	)
	if l.rbuf != nil && c.in.Len() == 0 {
		n, err = poll.Read(c.fd, l.rbuf)
		if n > 0 {
			l.view, l.viewConn = l.rbuf[:n], c
		}
	} else {
		bufs := c.in.Reserve(readReserve, l.scratch[:0])
		n, err = l.iov.Readv(c.fd, bufs)
		c.in.Commit(max(n, 0))
		clear(bufs)
		l.scratch = bufs[:0]
	}
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		l.closeConn(c, &OpError{Op: "read", Err: err})
		return
	}
	if n == 0 {
		l.gracefulClose(c, io.EOF)
		return
	}
	l.ctr.reads.Add(1)
	l.ctr.bytesRead.Add(uint64(n))
	c.lastRead = l.now
	l.dispatchData(c)
}

// dispatchData runs OnData and keeps what the handler did not consume.
func (l *loop) dispatchData(c *conn) {
	err := l.callData(c)
	if l.viewConn == c {
		if len(l.view) > 0 && !c.closed {
			c.in.Write(l.view)
		}
		l.view, l.viewConn = nil, nil
	}
	// A chunk drained by Next stays parked (its bytes may still be in use)
	// until the buffer is modified again: the callback is over, so give it
	// back now, or an idle connection would keep it.
	c.in.Release()
	if err != nil && !c.closed {
		l.gracefulClose(c, err)
		return
	}
	if !c.closed && c.in.Len() > l.cfg.MaxInbound {
		l.closeConn(c, ErrInboundFull)
		return
	}
	l.afterCallback(c)
}

// afterCallback applies what a callback asked for: a close, or a flush.
func (l *loop) afterCallback(c *conn) {
	switch {
	case c.closed:
	case c.kill:
		l.closeConn(c, c.cerr)
	case c.dirty:
		// A Close is a task behind the AsyncWrites queued before it (from
		// this callback too), so they are part of the backlog it writes.
		l.flush(c)
	}
}

func (l *loop) callOpen(c *conn) {
	defer l.recoverConn(c)
	l.h.OnOpen(c)
}

func (l *loop) callData(c *conn) (err error) {
	defer l.recoverConn(c)
	return l.h.OnData(c)
}

func (l *loop) callRun(c *conn, fn func(Conn)) {
	defer l.recoverConn(c)
	fn(c)
}

func (l *loop) callWatermark(c *conn, high bool) {
	defer l.recoverConn(c)
	l.wm.OnWatermark(c, high)
}

func (l *loop) callClose(c *conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			l.ctr.panics.Add(1)
			l.log.Error("engine: panic in OnClose", "loop", l.idx, "conn", c.id, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	l.h.OnClose(c, err)
}

func (l *loop) callDone(c *conn, done WriteDone, err error) {
	defer func() {
		if r := recover(); r != nil {
			l.ctr.panics.Add(1)
			l.log.Error("engine: panic in write callback", "loop", l.idx, "conn", c.id, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	done(c, err)
}

// recoverConn turns a callback panic into a logged, counted close of that
// connection; the loop goes on.
func (l *loop) recoverConn(c *conn) {
	if r := recover(); r != nil {
		stack := debug.Stack()
		l.ctr.panics.Add(1)
		l.log.Error("engine: panic in handler, closing connection", "loop", l.idx, "conn", c.id, "panic", r, "stack", string(stack))
		c.killWith(&PanicError{Value: r, Stack: stack})
	}
}

func (l *loop) onTick() {
	func() {
		defer func() {
			if r := recover(); r != nil {
				l.ctr.panics.Add(1)
				l.log.Error("engine: panic in OnTick", "loop", l.idx, "panic", r, "stack", string(debug.Stack()))
			}
		}()
		l.ticker.OnTick(l.idx, l.nowTime)
	}()
	if !l.closing {
		l.wheel.Schedule(&l.tick, l.nowTime.Add(l.cfg.TickInterval))
	}
}

func (l *loop) markDirty(c *conn) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// flushDirty writes every connection with queued bytes, then settles the
// AsyncWrites of this round.
func (l *loop) flushDirty() {
	for i, c := range l.dirty {
		if c.dirty && !c.closed {
			l.flush(c)
		}
		c.dirty = false
		l.dirty[i] = nil
	}
	l.dirty = l.dirty[:0]
	if len(l.writes) > 0 {
		l.settle()
	}
}

// settle completes the AsyncWrites queued this round whose bytes are on the
// socket and parks the rest on their connection until a later flush.
func (l *loop) settle() {
	for i := range l.writes {
		w := l.writes[i]
		l.writes[i] = pendingWrite{}
		switch {
		case w.c.closed:
			l.finishWrite(w, ErrConnClosed)
		case w.c.written >= w.end:
			l.finishWrite(w, nil)
		default:
			sl := w.c.slowPath()
			sl.marks = append(sl.marks, w)
		}
	}
	l.writes = l.writes[:0]
}

func (l *loop) finishWrite(w pendingWrite, err error) {
	w.c.pending.Add(-1 - w.more)
	l.e.pending.Add(-1 - int64(w.more))
	if w.done != nil {
		l.callDone(w.c, w.done, err)
	}
}

// flush writes the outbound buffer with writev until it is empty or the
// socket is full; only then is EPOLLOUT armed (seed 002's send path), and it
// is disarmed once the backlog drains.
func (l *loop) flush(c *conn) {
	c.dirty = false
	for c.hasOutput() {
		limit := -1 // bytes that may go before the next file
		if c.hasFiles() {
			if c.slow.files[0].before == 0 {
				if !l.sendFile(c) {
					break
				}
				continue
			}
			limit = c.slow.files[0].before
		}
		bufs := c.out.Slices(l.scratch[:0], limit)
		want := 0
		for _, b := range bufs {
			want += len(b)
		}
		n, err := l.iov.Writev(c.fd, bufs)
		clear(bufs)
		l.scratch = bufs[:0]
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			l.closeConn(c, &OpError{Op: "write", Err: err})
			return
		}
		c.out.Discard(n)
		c.written += uint64(n)
		if c.hasFiles() {
			c.slow.files[0].before -= n
		}
		l.ctr.writes.Add(1)
		l.ctr.bytesWritten.Add(uint64(n))
		if n < want {
			break // the socket took less than offered: it is full
		}
	}
	if c.slow != nil && len(c.slow.marks) > 0 {
		l.popMarks(c)
	}
	if !c.hasOutput() && c.closing {
		l.closeConn(c, c.cerr)
		return
	}
	l.updateInterest(c)
	l.checkWatermark(c)
}

// popMarks completes parked AsyncWrites whose bytes have been written.
func (l *loop) popMarks(c *conn) {
	sl := c.slow
	i := 0
	for i < len(sl.marks) && sl.marks[i].end <= c.written {
		l.finishWrite(sl.marks[i], nil)
		i++
	}
	if i == len(sl.marks) {
		clear(sl.marks)
		sl.marks = nil // idle connections keep no backing array
		return
	}
	n := copy(sl.marks, sl.marks[i:])
	clear(sl.marks[n:])
	sl.marks = sl.marks[:n]
}

// updateInterest keeps the epoll mask equal to what the connection needs:
// reads unless it is closing, writes only while bytes are waiting.
func (l *loop) updateInterest(c *conn) {
	var want uint32
	if !c.closing {
		want = poll.EventRead
	}
	if c.hasOutput() {
		want |= poll.EventWrite
	}
	if want == c.events {
		return
	}
	if want&poll.EventWrite != 0 && c.events&poll.EventWrite == 0 {
		l.ctr.writeBlocked.Add(1)
	}
	c.events = want
	if err := l.poller.Mod(c.fd, want, c.slot, c.seq); err != nil {
		l.closeConn(c, &OpError{Op: "epoll_ctl", Err: err})
	}
}

func (l *loop) checkWatermark(c *conn) {
	if l.wm == nil || c.closed {
		return
	}
	n := c.out.Len()
	switch {
	case !c.high && n > l.cfg.WriteHighWater:
		c.high = true
		l.callWatermark(c, true)
	case c.high && n < l.cfg.WriteLowWater:
		c.high = false
		l.callWatermark(c, false)
	default:
		return
	}
	l.afterCallback(c)
}

func (l *loop) runTasks() {
	l.mu.Lock()
	l.running, l.tasks = l.tasks, l.running[:0]
	l.ntask.Store(0)
	l.mu.Unlock()
	l.ctr.tasks.Add(uint64(len(l.running)))
	for i := range l.running {
		l.runTask(&l.running[i])
		l.running[i] = task{}
	}
	l.running = l.running[:0]
	l.flushDirty()
}

func (l *loop) runTask(t *task) {
	c := t.c
	switch t.kind {
	case taskWrite:
		if c.closed {
			l.writes = append(l.writes, pendingWrite{c: c, done: t.done, more: t.more})
			return
		}
		size := len(t.buf)
		for _, b := range t.bufs {
			size += len(b)
		}
		if c.out.Len()+size > l.cfg.MaxOutbound {
			l.writes = append(l.writes, pendingWrite{c: c, done: t.done, more: t.more})
			l.closeConn(c, ErrOutboundFull)
			return
		}
		c.appendOut(t.buf)
		for _, b := range t.bufs {
			c.appendOut(b)
		}
		c.outPos += uint64(size)
		l.writes = append(l.writes, pendingWrite{c: c, end: c.outPos, done: t.done, more: t.more})
		l.markDirty(c)
	case taskSendFile:
		if c.closed {
			l.writes = append(l.writes, pendingWrite{c: c, done: t.done})
			return
		}
		before := c.out.Len()
		if c.hasFiles() {
			before = c.slow.tail
		}
		c.outPos += uint64(t.n)
		sl := c.slowPath()
		sl.files = append(sl.files, fileSeg{f: t.file, off: t.off, remain: t.n, before: before, end: c.outPos, done: t.done})
		sl.tail = 0
		l.writes = append(l.writes, pendingWrite{c: c, end: c.outPos})
		l.markDirty(c)
	case taskRun:
		if !c.closed {
			l.callRun(c, t.fn)
			l.afterCallback(c)
		}
	case taskAfter:
		if !c.closed {
			a := &afterFunc{c: c, fn: t.fn}
			a.t.Init(a.fire)
			l.wheel.Schedule(&a.t, l.nowTime.Add(t.d))
		}
	case taskClose:
		if !c.closed && !c.closing {
			l.gracefulClose(c, nil)
		}
	case taskKill:
		if !c.closed {
			l.closeConn(c, t.err)
		}
	case taskRegister:
		l.register(c)
	case taskCall:
		t.call(l)
		close(t.ack)
	case taskShutdown:
		l.beginShutdown()
	case taskForce:
		l.closing = true
		for _, c := range l.conns {
			if c != nil {
				l.closeConn(c, ErrEngineClosed)
			}
		}
	}
}

// afterFunc is a Conn.AfterFunc timer.
type afterFunc struct {
	t  timingwheel.Timer
	c  *conn
	fn func(Conn)
}

func (a *afterFunc) fire() {
	c := a.c
	if c.closed {
		return
	}
	c.l.callRun(c, a.fn)
	c.l.afterCallback(c)
}

func (l *loop) beginShutdown() {
	l.closing = true
	l.closeListeners()
	for _, c := range l.conns {
		if c != nil && !c.closing {
			l.gracefulClose(c, ErrEngineClosed)
		}
	}
}

// register adopts a new connection: slot, epoll, socket options, timers,
// then OnOpen.
func (l *loop) register(c *conn) {
	if l.closing {
		unix.Close(c.fd)
		c.state.Store(connClosed)
		l.e.open.Add(-1)
		return
	}
	if !c.unix {
		l.setSockopts(c.fd)
	}
	var slot int32
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = int32(len(l.conns))
		l.conns = append(l.conns, nil)
	}
	l.seq++
	c.slot, c.seq = slot, l.seq
	c.events = poll.EventRead
	if err := l.poller.Add(c.fd, poll.EventRead, slot, c.seq); err != nil {
		l.free = append(l.free, slot)
		unix.Close(c.fd)
		c.state.Store(connClosed)
		l.e.open.Add(-1)
		l.log.Error("engine: register connection", "loop", l.idx, "err", err)
		return
	}
	l.conns[slot] = c
	l.nconns.Add(1)
	if c.dialed {
		l.ctr.dialed.Add(1)
	} else {
		l.ctr.accepted.Add(1)
	}
	c.lastRead = l.now
	c.idle = int64(l.cfg.IdleTimeout)
	if c.idle > 0 {
		l.armTimer(c)
	}
	l.callOpen(c)
	l.afterCallback(c)
}

func (l *loop) setSockopts(fd int) {
	cfg := l.cfg
	if !cfg.TCPDelay {
		poll.SetNoDelay(fd, true)
	}
	if cfg.TCPKeepAlive > 0 {
		poll.SetKeepAlive(fd, cfg.TCPKeepAlive)
	}
	if cfg.SocketRecvBuffer > 0 {
		poll.SetRecvBuffer(fd, cfg.SocketRecvBuffer)
	}
	if cfg.SocketSendBuffer > 0 {
		poll.SetSendBuffer(fd, cfg.SocketSendBuffer)
	}
	switch {
	case cfg.Linger < 0:
		poll.SetLinger(fd, 0)
	case cfg.Linger > 0:
		poll.SetLinger(fd, int((cfg.Linger+time.Second-1)/time.Second))
	}
}

func (l *loop) addListenFd(fd int, ln *listener) {
	lf := &listenFd{fd: fd, ln: ln}
	idx := len(l.lfds)
	lf.resume.Init(func() { l.resumeAccept(lf, idx) })
	if err := l.poller.Add(fd, poll.EventIn, int32(-1-idx), 0); err != nil {
		l.log.Error("engine: register listener", "addr", ln.addr.String(), "err", err)
		unix.Close(fd)
		return
	}
	l.lfds = append(l.lfds, lf)
}

func (l *loop) closeListeners() {
	for i, lf := range l.lfds {
		if lf == nil {
			continue
		}
		l.wheel.Stop(&lf.resume)
		unix.Close(lf.fd) // closing removes it from epoll
		l.lfds[i] = nil
	}
}

func (l *loop) resumeAccept(lf *listenFd, idx int) {
	if l.lfds[idx] != lf || !lf.paused {
		return
	}
	lf.paused = false
	if err := l.poller.Mod(lf.fd, poll.EventIn, int32(-1-idx), 0); err != nil {
		l.log.Error("engine: resume accept", "addr", lf.ln.addr.String(), "err", err)
	}
}

func (l *loop) accept(lf *listenFd) {
	for i := 0; i < acceptBatch; i++ {
		fd, addr, err := poll.Accept(lf.fd)
		if err != nil {
			switch err {
			case unix.EAGAIN:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			case unix.EMFILE, unix.ENFILE:
				// Out of descriptors. Shed the waiting connection instead of
				// leaving it to hang: free the reserve descriptor, accept,
				// close at once (counted as rejected), take the reserve back.
				if l.shedOne(lf) {
					continue
				}
				fallthrough
			case unix.ENOBUFS, unix.ENOMEM:
				// The listener stays readable: stop watching it for a
				// moment instead of spinning.
				if now := l.nowTime; now.Sub(lf.warned) > 10*time.Second {
					lf.warned = now
					l.log.Warn("engine: accept paused", "addr", lf.ln.addr.String(), "err", err, "pause", pauseOnEMFIL)
				}
				lf.paused = true
				idx := -1
				for j, x := range l.lfds {
					if x == lf {
						idx = j
					}
				}
				l.poller.Mod(lf.fd, 0, int32(-1-idx), 0)
				l.wheel.Schedule(&lf.resume, l.nowTime.Add(pauseOnEMFIL))
			default:
				l.log.Error("engine: accept", "addr", lf.ln.addr.String(), "err", err)
			}
			return
		}
		if max := l.cfg.MaxConns; max > 0 {
			if l.e.open.Add(1) > int64(max) {
				l.e.open.Add(-1)
				l.ctr.rejected.Add(1) // counted before the peer can see the close
				unix.Close(fd)
				continue
			}
		} else {
			l.e.open.Add(1)
		}
		target := l.r.pick()
		c := newConn(target, fd)
		c.remote = addr
		c.lis = lf.ln
		c.unix = lf.ln.network == "unix"
		if target == l {
			l.register(c)
		} else {
			target.push(task{kind: taskRegister, c: c})
		}
	}
}

// gracefulClose stops reading, writes what is queued, then closes with err.
// The backlog gets at most closeTimeout.
func (l *loop) gracefulClose(c *conn, err error) {
	if c.closed {
		return
	}
	if !c.closing {
		c.closing = true
		if !c.kill {
			c.cerr = err
		}
		c.state.Store(connClosing)
	}
	if !c.hasOutput() {
		l.closeConn(c, c.cerr)
		return
	}
	l.flush(c)
	if !c.closed {
		if d := l.now + int64(closeTimeout); c.deadline == 0 || d < c.deadline {
			c.deadline = d
		}
		l.armTimer(c)
	}
}

// closeConn closes the connection now: the descriptor, its slot, its
// timers, its parked writes (failed with ErrConnClosed), then OnClose.
func (l *loop) closeConn(c *conn, err error) {
	if c.closed {
		return
	}
	c.closed = true
	c.state.Store(connClosed)
	l.conns[c.slot] = nil
	l.free = append(l.free, c.slot)
	if c.timer.Active() {
		l.wheel.Stop(&c.timer)
	}
	// Counters move before the peer can observe the close.
	l.nconns.Add(-1)
	l.e.open.Add(-1)
	l.ctr.closedBy[CloseReasonOf(err)].Add(1)
	unix.Close(c.fd) // also removes it from the epoll set
	if sl := c.slow; sl != nil {
		for _, w := range sl.marks {
			l.finishWrite(w, ErrConnClosed)
		}
		for _, f := range sl.files {
			l.callDone(c, f.done, ErrConnClosed)
		}
		c.slow = nil
	}
	c.out.Reset()
	l.callClose(c, err)
	c.in.Reset()
	if l.viewConn == c {
		l.view, l.viewConn = nil, nil
	}
}

// armTimer schedules the connection's timer for its earliest deadline (idle
// or absolute). Idle time is tracked lazily: reads only record lastRead, and
// the timer re-arms itself when it fires early.
func (l *loop) armTimer(c *conn) {
	due := int64(math.MaxInt64)
	if c.idle > 0 {
		due = c.lastRead + c.idle
	}
	if c.deadline > 0 && c.deadline < due {
		due = c.deadline
	}
	if due == math.MaxInt64 {
		if c.timer.Active() {
			l.wheel.Stop(&c.timer)
		}
		return
	}
	at := l.timeAt(due)
	if c.timer.Active() && !c.timer.When().After(at) {
		return // fires earlier and will re-arm
	}
	if !c.timerInit {
		c.timer.Init(c.onTimer)
		c.timerInit = true
	}
	l.wheel.Schedule(&c.timer, at)
}

// sendFile sends the first file segment, which is next in the stream, with
// sendfile(2) until it is done (true: go on flushing) or the socket is
// full (false). sendfile may block on a disk read: that is the price of not
// copying the file through user space.
func (l *loop) sendFile(c *conn) bool {
	sl := c.slow
	seg := &sl.files[0]
	for seg.remain > 0 {
		if seg.chunk == 0 {
			seg.chunk = sendfileChunk(c.fd)
		}
		n, err := unix.Sendfile(c.fd, int(seg.f.Fd()), &seg.off, int(min(seg.remain, seg.chunk)))
		if n > 0 {
			seg.remain -= int64(n)
			c.written += uint64(n)
			l.ctr.writes.Add(1)
			l.ctr.bytesWritten.Add(uint64(n))
		}
		switch {
		case err == unix.EAGAIN:
			return false
		case err == unix.EINTR:
		case err != nil:
			l.closeConn(c, &OpError{Op: "sendfile", Err: err})
			return false
		case n == 0:
			// The file ended before the range did.
			l.closeConn(c, &OpError{Op: "sendfile", Err: io.ErrUnexpectedEOF})
			return false
		}
	}
	done := seg.done
	copy(sl.files, sl.files[1:])
	sl.files[len(sl.files)-1] = fileSeg{}
	sl.files = sl.files[:len(sl.files)-1]
	if len(sl.files) == 0 {
		sl.files = nil
	}
	l.callDone(c, done, nil)
	return true
}

// sendfileChunk is how much one sendfile call is asked for: at most what the
// socket's send buffer holds. Asking a small buffer (SO_SNDBUF) for much
// more stalls the transfer (measured: 6 MB through a 16 KiB buffer took 4s
// in 64 KiB+ calls and 0.19s in 16 KiB calls; with autotuned buffers every
// size up to 1 MiB is as fast).
func sendfileChunk(fd int) int64 {
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return 64 << 10
	}
	return min(max(int64(n/2), 16<<10), 1<<20) // the kernel reports twice what was set
}

// viewOf returns the unconsumed part of the read buffer if c is the
// connection in OnData, nil otherwise.
func (l *loop) viewOf(c *conn) []byte {
	if l.viewConn == c {
		return l.view
	}
	return nil
}

// consumeView drops n bytes from the front of the read view.
func (l *loop) consumeView(n int) { l.view = l.view[n:] }
