package engine

import (
	"runtime/debug"
)

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
