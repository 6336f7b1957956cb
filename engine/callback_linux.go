package engine

// Every handler callback runs through one of the call* functions below, so a
// panic in it is counted (Stats.Panics), logged with its stack and kept from
// taking the loop down. A panic in a callback that serves an open connection
// closes that connection with a *PanicError once the callback returns; one
// in OnClose, a WriteDone or OnTick has no connection to close.

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
	defer l.recoverPanic(c, "OnOpen", true)
	l.h.OnOpen(c)
}

func (l *loop) callData(c *conn) (err error) {
	defer l.recoverPanic(c, "OnData", true)
	return l.h.OnData(c)
}

func (l *loop) callRun(c *conn, fn func(Conn)) {
	defer l.recoverPanic(c, "Run", true)
	fn(c)
}

func (l *loop) callWatermark(c *conn, high bool) {
	defer l.recoverPanic(c, "OnWatermark", true)
	l.wm.OnWatermark(c, high)
}

func (l *loop) callClose(c *conn, err error) {
	defer l.recoverPanic(c, "OnClose", false)
	l.h.OnClose(c, err)
}

func (l *loop) callDone(c *conn, done WriteDone, err error) {
	defer l.recoverPanic(c, "write callback", false)
	done(c, err)
}

func (l *loop) onTick() {
	l.callTick()
	if !l.closing {
		l.wheel.Schedule(&l.tick, l.nowTime.Add(l.cfg.TickInterval))
	}
}

func (l *loop) callTick() {
	defer l.recoverPanic(nil, "OnTick", false)
	l.ticker.OnTick(l.idx, l.nowTime)
}

// recoverPanic, deferred by a call* function, recovers a panic of the
// callback named in: counts and logs it (recovered, as the goroutine
// backend does), and with kill set asks for c to be closed with a
// *PanicError once the callback returns. c is nil for callbacks of the loop
// (OnTick). It must be deferred directly, or recover returns nil.
func (l *loop) recoverPanic(c *conn, in string, kill bool) {
	p := recover()
	if p == nil {
		return
	}
	var id uint64
	if c != nil {
		id = c.id
	}
	if kill {
		in += ", closing connection"
	}
	stack := recovered(l.log.With("loop", l.idx), &l.ctr, in, id, p)
	if kill {
		c.killWith(&PanicError{Value: p, Stack: stack})
	}
}
