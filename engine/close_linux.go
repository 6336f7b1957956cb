// Closing: graceful (stop reading, write the backlog, then close, within
// closeTimeout) and immediate (closeConn), engine shutdown, and the one
// per-connection timer that enforces idle timeouts and deadlines.

package engine

import (
	"math"

	"golang.org/x/sys/unix"
)

func (l *loop) beginShutdown() {
	l.closing = true
	l.closeListeners()
	for _, c := range l.conns {
		if c != nil && !c.closing {
			l.gracefulClose(c, ErrEngineClosed)
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

// dropUnregistered closes a connection the loop never registered: the loop
// is closing or has exited, or epoll refused the descriptor. As in
// closeConn, the state says closed before the descriptor is (LocalAddr
// relies on that order).
func (l *loop) dropUnregistered(c *conn) {
	c.state.Store(connClosed)
	unix.Close(c.fd)
	l.e.open.Add(-1)
}

// closeConn closes the connection now: the descriptor, its slot, its
// timers, its parked writes (failed with ErrConnClosed), then OnClose.
func (l *loop) closeConn(c *conn, err error) {
	if c.closed {
		return
	}
	c.closed = true
	c.state.Store(connClosed) // before the descriptor closes: see LocalAddr
	l.conns[c.slot] = nil
	if c.timer.Active() {
		l.wheel.Stop(&c.timer)
	}
	// Counters move before the peer can observe the close.
	l.nconns.Add(-1)
	l.e.open.Add(-1)
	l.ctr.closedBy[CloseReasonOf(err)].Add(1)
	// A request still in flight may read the outbound chunks (io_uring):
	// then the driver keeps them, and the slot, until it completes.
	pinned := l.io.release(c)
	if !pinned {
		l.free = append(l.free, c.slot)
	}
	if sl := c.slow; sl != nil {
		for _, w := range sl.marks {
			l.finishWrite(w, ErrConnClosed)
		}
		for _, f := range sl.files {
			l.callDone(c, f.done, ErrConnClosed)
		}
		c.slow = nil
	}
	if !pinned {
		c.out.Reset()
	}
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

// onTimer runs on the loop when the connection's earliest deadline may have
// passed.
func (c *conn) onTimer() {
	if c.closed {
		return
	}
	l := c.l
	now := l.now
	switch {
	case c.deadline > 0 && now >= c.deadline:
		if c.closing {
			l.closeConn(c, c.cerr)
		} else {
			l.closeConn(c, ErrDeadlineExceeded)
		}
	case c.idle > 0 && now >= c.lastRead+c.idle && !c.closing:
		l.closeConn(c, ErrIdleTimeout)
	default:
		l.armTimer(c)
	}
}
