// The outbound side that is not tied to epoll: queueing AsyncWrites and
// files, write marks (an AsyncWrite completes once its last byte is on the
// socket), and the watermark checks. write_linux.go moves the bytes.

package engine

// queueWrite appends the bytes of a taskWrite or taskWritePart to the
// outbound buffer; a taskWrite also queues the message's write mark, settled
// after this round's flush. MaxOutbound is checked per buffer: the buffers
// of an AsyncWritev are adjacent in the queue and nothing is flushed between
// them, so the connection closes exactly when the whole message would not
// fit.
func (l *loop) queueWrite(c *conn, t *task) {
	last := t.kind == taskWrite
	if !c.closed && c.out.Len()+len(t.buf) <= l.cfg.MaxOutbound {
		c.appendOut(t.buf)
		c.outPos += uint64(len(t.buf))
		if last {
			l.writes = append(l.writes, pendingWrite{c: c, end: c.outPos, done: t.done, more: t.more})
		}
		l.markDirty(c)
		return
	}
	if last {
		l.writes = append(l.writes, pendingWrite{c: c, done: t.done, more: t.more}) // fails with ErrConnClosed
	}
	if !c.closed {
		l.closeConn(c, ErrOutboundFull)
	}
}

// queueFile queues a file segment after everything queued so far.
func (l *loop) queueFile(c *conn, seg *fileSeg) {
	if c.closed {
		l.writes = append(l.writes, pendingWrite{c: c, done: seg.done})
		return
	}
	seg.before = c.out.Len()
	if c.hasFiles() {
		seg.before = c.slow.tail
	}
	c.outPos += uint64(seg.remain)
	seg.end = c.outPos
	sl := c.slowPath()
	sl.files = append(sl.files, *seg)
	sl.tail = 0
	l.writes = append(l.writes, pendingWrite{c: c, end: c.outPos}) // seg.done runs when sendFile finishes it
	l.markDirty(c)
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

// popMarks completes parked AsyncWrites whose bytes have been written.
// wroteOut accounts for n bytes of c's outbound buffer that reached the
// socket.
func (l *loop) wroteOut(c *conn, n int) {
	c.out.Discard(n)
	c.written += uint64(n)
	if c.hasFiles() {
		c.slow.files[0].before -= n
	}
	l.ctr.writes.Add(1)
	l.ctr.bytesWritten.Add(uint64(n))
}

// settleOut follows a write: it completes the AsyncWrites now on the
// socket, and closes c if a graceful close was waiting for the backlog. It
// reports whether c is still open.
func (l *loop) settleOut(c *conn) bool {
	if c.slow != nil && len(c.slow.marks) > 0 {
		l.popMarks(c)
	}
	if !c.hasOutput() && c.closing {
		l.closeConn(c, c.cerr)
		return false
	}
	return true
}

// fileSent drops c's first file segment, now all on the socket, and runs
// its done.
func (l *loop) fileSent(c *conn) {
	sl := c.slow
	done := sl.files[0].done
	copy(sl.files, sl.files[1:])
	sl.files[len(sl.files)-1] = fileSeg{}
	sl.files = sl.files[:len(sl.files)-1]
	if len(sl.files) == 0 {
		sl.files = nil
	}
	l.callDone(c, done, nil)
}

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

// pendingWrite is an AsyncWrite whose bytes are in the outbound buffer but
// not all on the socket yet: done runs when the connection's written count
// reaches end.
type pendingWrite struct {
	c    *conn
	end  uint64
	done WriteDone
	more int32 // messages it counts as beyond the first (AsyncWriteBatch)
}
