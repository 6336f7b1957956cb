// The event loop: its state, creation, the run loop and epoll dispatch. The
// loop's other jobs live in files named for them: task (work from other
// goroutines), read, callback (handler calls and panics), outbound (write
// marks and watermarks), write (the send path), accept, close (closing and
// timers).

package engine

import (
	"log/slog"
	"math"
	"runtime"
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
	slotEventfd = math.MinInt32
	maxEvents   = 1024
)

type loopState uint8

const (
	loopIdle loopState = iota
	loopRunning
	loopDead
)

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

	io       ioDriver // the kernel interface: epollIO, or uringIO for Kind Uring
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
	if cfg.ReadMode == ReadLoopBuffer && cfg.Kind != Uring { // io_uring reads into its provided buffers
		l.rbuf = make([]byte, cfg.ReadBufferSize)
	}
	l.nowTime = l.base
	l.wheel = timingwheel.New(timingwheel.Config{Tick: cfg.TimerResolution, Clock: cfg.Clock})
	var err error
	if cfg.Kind == Uring {
		l.io, err = newUringIO(l)
	} else {
		l.io, err = newEpollIO(l)
	}
	if err != nil {
		return nil, err
	}
	l.reserve, _ = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	return l, nil
}

// newEpollIO opens the loop's epoll instance and wake-up eventfd.
func newEpollIO(l *loop) (ioDriver, error) {
	var err error
	newPoller := poll.NewParkingPoller
	if l.cfg.BlockingWait {
		newPoller = poll.NewPoller
	}
	if l.poller, err = newPoller(); err != nil {
		return nil, &OpError{Op: "epoll_create", Err: err}
	}
	if l.efd, err = poll.NewEventfd(); err != nil {
		l.poller.Close()
		return nil, &OpError{Op: "eventfd", Err: err}
	}
	d := epollIO{l}
	if err = l.poller.Add(l.efd, poll.EventIn, slotEventfd, 0); err != nil {
		d.close()
		return nil, &OpError{Op: "epoll_ctl eventfd", Err: err}
	}
	return d, nil
}

// closeFds closes the loop's descriptors; the loop is not running (it
// exited, or never started).
func (l *loop) closeFds() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reserve >= 0 {
		unix.Close(l.reserve)
		l.reserve = -1
	}
	l.io.close()
}

func (l *loop) run() {
	defer l.r.wg.Done()
	locked := l.cfg.LockOSThread || l.io.needsThread()
	if locked {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	if err := l.io.start(); err != nil {
		l.log.Error("engine: start loop", "loop", l.idx, "err", err)
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
			// runnable, unless the loop is locked to its thread: then
			// the goroutine cannot yield without handing its P to
			// another thread and waiting to get it back (two futex
			// calls and two context switches per turn, measured with
			// perf trace on the uring backend).
			if !locked {
				runtime.Gosched()
				timeout = l.waitTimeout()
			}
		}
		if timeout != 0 {
			l.sleeping.Store(true)
			if l.ntask.Load() > 0 {
				timeout = 0
			}
		}
		n, err := l.io.wait(timeout)
		if timeout != 0 {
			l.sleeping.Store(false)
		}
		if err != nil {
			l.log.Error("engine: wait for events", "loop", l.idx, "err", err)
			time.Sleep(10 * time.Millisecond)
		}
		l.updateNow()
		start := l.now
		if n > 0 {
			l.ctr.polls.Add(1)
			l.io.dispatch(n)
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
	l.io.drain()
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

// timeAt converts loop nanoseconds back to a time.Time.
func (l *loop) timeAt(ns int64) time.Time { return l.base.Add(time.Duration(ns)) }
