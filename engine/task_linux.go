package engine

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
	"wharf/timingwheel"
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
		l.e.pending.Add(-1)
		t.c.pending.Add(-1)
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
			l.writes = append(l.writes, pendingWrite{c: c, done: t.done})
			return
		}
		size := len(t.buf)
		for _, b := range t.bufs {
			size += len(b)
		}
		if c.out.Len()+size > l.cfg.MaxOutbound {
			l.writes = append(l.writes, pendingWrite{c: c, done: t.done})
			l.closeConn(c, ErrOutboundFull)
			return
		}
		c.appendOut(t.buf)
		for _, b := range t.bufs {
			c.appendOut(b)
		}
		c.outPos += uint64(size)
		l.writes = append(l.writes, pendingWrite{c: c, end: c.outPos, done: t.done})
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
