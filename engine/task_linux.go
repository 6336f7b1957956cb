// The task queue: work other goroutines hand a loop (AsyncWrite, Run,
// Close, registration...), pushed under the loop's mutex with at most one
// eventfd wake-up per sleep, and run in order by the loop.

package engine

import (
	"time"

	"wharf/timingwheel"
)

// taskKind is what a task asks of the loop; the comment says what arg holds.
type taskKind uint8

const (
	taskWrite     taskKind = iota // AsyncWrite, or the last buffer of an AsyncWritev: buf, done
	taskWritePart                 // a buffer of an AsyncWritev before its last: buf
	taskSendFile                  // Conn.AsyncSendFile: arg *fileSeg (with its done)
	taskRun                       // Conn.Run: arg func(Conn)
	taskAfter                     // Conn.AfterFunc: arg *afterFunc
	taskClose                     // Conn.Close (graceful), or an OnData error behind its writes: arg error or nil
	taskKill                      // hard close (limits): arg error
	taskRegister                  // adopt an accepted or dialed connection
	taskCall                      // internal: arg *syncCall, run on the loop then acknowledged
	taskShutdown                  // begin graceful shutdown
	taskForce                     // close everything now
)

// task is work handed to a loop by another goroutine. Every AsyncWrite
// copies one into the queue and out of it, so it holds only what writes
// need inline (64 bytes); the rarer kinds carry one pointer-shaped value in
// arg, which costs no allocation of its own. An AsyncWritev is queued as one
// task per buffer, adjacent in the queue (see pushWritev).
type task struct {
	kind taskKind
	more int32     // taskWrite: messages it counts as beyond the first (AsyncWriteBatch); in kind's padding
	c    *conn     // nil for taskCall, taskShutdown, taskForce
	buf  []byte    // taskWrite, taskWritePart
	done WriteDone // taskWrite
	arg  any       // per kind, see taskKind
}

// syncCall is a function callSync runs on the loop.
type syncCall struct {
	fn  func(*loop)
	ack chan struct{} // closed once fn has run
}

// push hands t to the loop from any goroutine and wakes the loop if it
// sleeps. It reports whether the loop is running; a task pushed before the
// loop starts runs when it starts, and one pushed after it exited is
// completed at once on the caller's goroutine.
func (l *loop) push(t task) bool {
	if !l.lockQueue() {
		l.runDead(&t)
		return false
	}
	l.tasks = append(l.tasks, t)
	return l.unlockQueue()
}

// pushWritev queues an AsyncWritev of bufs as one taskWritePart per buffer
// and a taskWrite for the last one, which settles the message (done, the
// pending counts). The tasks are appended under one lock, so no other task
// comes between them and the message reaches the outbound buffer whole.
func (l *loop) pushWritev(c *conn, bufs [][]byte, n int, done WriteDone) {
	last := task{kind: taskWrite, more: int32(n - 1), c: c, done: done}
	if n := len(bufs); n > 0 {
		last.buf, bufs = bufs[n-1], bufs[:n-1]
	}
	if !l.lockQueue() {
		l.runDead(&last)
		return
	}
	for _, b := range bufs {
		l.tasks = append(l.tasks, task{kind: taskWritePart, c: c, buf: b})
	}
	l.tasks = append(l.tasks, last)
	l.unlockQueue()
}

// lockQueue takes mu to append tasks. Once the loop is dead it releases mu
// and reports false: the caller completes its task with runDead.
func (l *loop) lockQueue() bool {
	l.mu.Lock()
	if l.state == loopDead {
		l.mu.Unlock()
		return false
	}
	return true
}

// unlockQueue publishes the tasks appended since lockQueue, wakes the loop
// if it sleeps and releases mu. It reports whether the loop is running.
func (l *loop) unlockQueue() bool {
	l.ntask.Store(int32(len(l.tasks)))
	running := l.state == loopRunning
	// The loop sets sleeping before it re-checks ntask and blocks, so either
	// it sees our task or we see it sleeping. wakePending makes a burst of
	// pushes cost one eventfd write. The write happens under mu: closeFds
	// takes mu after the loop is dead, so the eventfd is never written
	// after it is closed (and its number perhaps reused).
	var err error
	if running && l.sleeping.Load() && l.wakePending.CompareAndSwap(false, true) {
		err = l.io.wake()
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
	sc := &syncCall{fn: fn, ack: make(chan struct{})}
	if l.push(task{kind: taskCall, arg: sc}) {
		<-sc.ack
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
	case taskSendFile:
		l.e.pending.Add(-1)
		t.c.pending.Add(-1)
		t.arg.(*fileSeg).done(t.c, ErrConnClosed)
	case taskRegister:
		l.dropUnregistered(t.c)
	case taskCall:
		sc := t.arg.(*syncCall)
		sc.fn(l)
		close(sc.ack)
	}
}

func (l *loop) runTasks() {
	l.mu.Lock()
	l.running, l.tasks = l.tasks, l.running[:0]
	l.ntask.Store(0)
	l.mu.Unlock()
	parts := 0 // the buffers of an AsyncWritev count as one task
	for i := range l.running {
		t := &l.running[i]
		if t.kind == taskWritePart {
			parts++
		}
		l.runTask(t)
		*t = task{}
	}
	l.ctr.tasks.Add(uint64(len(l.running) - parts))
	l.running = l.running[:0]
	l.flushDirty()
}

func (l *loop) runTask(t *task) {
	c := t.c
	switch t.kind {
	case taskWrite, taskWritePart:
		l.queueWrite(c, t)
	case taskSendFile:
		l.queueFile(c, t.arg.(*fileSeg))
	case taskRun:
		if !c.closed {
			l.callRun(c, t.arg.(func(Conn)))
			l.afterCallback(c)
		}
	case taskAfter:
		if !c.closed {
			a := t.arg.(*afterFunc)
			a.t.Init(a.fire)
			l.wheel.Schedule(&a.t, l.nowTime.Add(a.d))
		}
	case taskClose:
		if !c.closed && !c.closing {
			err, _ := t.arg.(error)
			l.gracefulClose(c, err)
		}
	case taskKill:
		if !c.closed {
			l.closeConn(c, t.arg.(error))
		}
	case taskRegister:
		l.register(c)
	case taskCall:
		sc := t.arg.(*syncCall)
		sc.fn(l)
		close(sc.ack)
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

// afterFunc is a Conn.AfterFunc timer. Conn.AfterFunc fills c, fn and d;
// the loop owns it from taskAfter on.
type afterFunc struct {
	t  timingwheel.Timer
	c  *conn
	fn func(Conn)
	d  time.Duration // from when the loop takes the task
}

func (a *afterFunc) fire() {
	c := a.c
	if c.closed {
		return
	}
	c.l.callRun(c, a.fn)
	c.l.afterCallback(c)
}
