// The send path on the socket: writev of the outbound buffer, sendfile(2)
// for queued files, and the epoll interest that follows the backlog. What
// is not tied to the socket (queueing, write marks, watermarks) is in
// outbound_linux.go.

package engine

import (
	"io"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
)

// flush writes c's outbound backlog, or queues the write, as the loop's
// driver does it.
func (l *loop) flush(c *conn) { l.io.flush(c) }

// writeOut is the reactor's flush: it writes the outbound buffer with
// writev until it is empty or the socket is full; only then is EPOLLOUT
// armed (seed 002's send path), and it is disarmed once the backlog drains.
func (l *loop) writeOut(c *conn) {
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
		l.wroteOut(c, n)
		if n < want {
			break // the socket took less than offered: it is full
		}
	}
	if !l.settleOut(c) {
		return
	}
	l.updateInterest(c)
	l.checkWatermark(c)
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
	l.fileSent(c)
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
