// The read path: read into the loop's buffer (ReadLoopBuffer) or the
// connection's (ReadConnBuffer), run OnData, keep what it left.

package engine

import (
	"io"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
)

// readReserve is what one read into a connection buffer reserves: the
// free tail plus at most one fresh chunk, so a read costs at most one
// pool round trip (a full read is simply followed by another event).
const readReserve = 1

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
		if c.pending.Load() > 0 && !c.closing {
			// AsyncWrites this callback queued are tasks not run yet (a
			// Layered connection writes nothing else): close behind them,
			// as Close does, so that they reach the socket first.
			c.state.CompareAndSwap(connOpen, connClosing)
			l.push(task{kind: taskClose, c: c, arg: err})
			return
		}
		l.gracefulClose(c, err)
		return
	}
	if !c.closed && c.in.Len() > l.cfg.MaxInbound {
		l.closeConn(c, ErrInboundFull)
		return
	}
	l.afterCallback(c)
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
