package engine

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"wharf/buffer"
	"wharf/engine/internal/poll"
	"wharf/timingwheel"
)

// directWriteMin is the size from which a loop-side Write to an empty
// outbound buffer goes straight to the socket instead of being copied and
// coalesced with other writes of the same callback.
const directWriteMin = 16 << 10

// conn is a connection of a loop (Reactor or Uring). Fields are owned by the
// loop unless marked.
type conn struct {
	l      *loop
	fd     int
	slot   int32  // index in l.conns
	seq    uint32 // registration stamp; epoll events carry it (stale-event check)
	id     uint64 // immutable
	remote netip.AddrPort
	lis    *listener // accepting listener (nil when dialed)
	unix   bool      // a Unix-domain socket
	dialed bool

	in      buffer.Buffer // inbound bytes kept between OnData calls
	out     buffer.Buffer // outbound backlog
	outPos  uint64        // bytes ever accepted for writing
	written uint64        // bytes ever written to the socket; outPos-written == out.Len()
	slow    *connSlow     // write marks and files: allocated the first time the socket pushes back
	events  uint32        // current epoll interest (reactor)
	sending uint32        // bytes of the send in flight (uring)
	cerr    error         // why the connection is closing (graceful), or must close now (kill)
	kill    bool          // a callback asked for an immediate close with cerr

	idle      int64 // idle timeout, ns (0: none)
	lastRead  int64 // loop time of the last read
	deadline  int64 // absolute loop time (0: none)
	timer     timingwheel.Timer
	timerInit bool

	dirty, closing, closed, high bool
	ureq                         uint8 // io_uring requests in flight (uringRecv, uringSend, uringSplice)

	ctx any // set on the loop before the Conn is shared; read anywhere

	state    atomic.Uint32 // connOpen, connClosing, connClosed: written by the loop and Close
	closeReq atomic.Bool   // Close was called
	pending  atomic.Int32  // AsyncWrites not yet settled
}

var _ Conn = (*conn)(nil)

func newConn(l *loop, fd int) *conn {
	c := &conn{l: l, fd: fd, id: l.e.nextID.Add(1)}
	c.in.Init(nil)
	c.out.Init(nil)
	return c
}

// --- inbound (loop only) ---

func (c *conn) InboundBuffered() int { return len(c.l.viewOf(c)) + c.in.Len() }

func (c *conn) Peek(n int) ([]byte, error) {
	if c.in.Len() == 0 {
		v := c.l.viewOf(c)
		if n <= 0 || n == len(v) {
			return v, nil
		}
		if n > len(v) {
			return v, io.ErrShortBuffer
		}
		return v[:n], nil
	}
	return peekIn(&c.in, n)
}

func (c *conn) Next(n int) ([]byte, error) {
	if c.in.Len() == 0 {
		v := c.l.viewOf(c)
		if n <= 0 || n >= len(v) {
			c.l.consumeView(len(v))
			if n > len(v) {
				return v, io.ErrShortBuffer
			}
			return v, nil
		}
		c.l.consumeView(n)
		return v[:n:n], nil
	}
	return nextIn(&c.in, n)
}

func (c *conn) Discard(n int) (int, error) {
	if c.in.Len() == 0 {
		v := c.l.viewOf(c)
		if n <= 0 || n > len(v) {
			n = len(v)
		}
		c.l.consumeView(n)
		return n, nil
	}
	return discardIn(&c.in, n)
}

// --- outbound (loop only) ---

func (c *conn) OutboundBuffered() int { return c.out.Len() }

func (c *conn) Write(p []byte) (int, error) {
	if c.closed || c.closing || c.kill {
		return 0, ErrConnClosed
	}
	if c.out.Len()+len(p) > c.l.cfg.MaxOutbound {
		c.killWith(ErrOutboundFull)
		return 0, ErrOutboundFull
	}
	c.outPos += uint64(len(p))
	if !c.hasOutput() && len(p) >= directWriteMin {
		n, err := poll.Write(c.fd, p)
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			c.killWith(&OpError{Op: "write", Err: err})
			return 0, c.cerr
		}
		if n > 0 {
			c.written += uint64(n)
			c.l.ctr.writes.Add(1)
			c.l.ctr.bytesWritten.Add(uint64(n))
			p = p[n:]
		}
		if len(p) == 0 {
			return n, nil
		}
	}
	c.appendOut(p)
	c.l.markDirty(c)
	return len(p), nil
}

// fileSeg is a file range queued by AsyncSendFile. It goes out after the
// first `before` bytes of the outbound buffer (those queued before it, after
// the previous segment), and before the rest.
type fileSeg struct {
	f      *os.File
	off    int64
	remain int64
	before int
	chunk  int64  // bytes per sendfile call (sendfileChunk), set on first use
	end    uint64 // stream position at its end (for its write mark)
	done   WriteDone
}

// connSlow holds what only a connection whose socket pushed back needs;
// most connections never allocate it.
type connSlow struct {
	marks []pendingWrite // AsyncWrites whose bytes are not all on the socket yet
	files []fileSeg      // files to send, in order with out (see fileSeg)
	tail  int            // out bytes queued after the last of files
}

func (c *conn) slowPath() *connSlow {
	if c.slow == nil {
		c.slow = new(connSlow)
	}
	return c.slow
}

// hasFiles reports whether file segments are queued.
func (c *conn) hasFiles() bool { return c.slow != nil && len(c.slow.files) > 0 }

// hasOutput reports whether anything waits to be written.
func (c *conn) hasOutput() bool { return c.out.Len() > 0 || c.hasFiles() }

// appendOut queues bytes after everything queued so far.
func (c *conn) appendOut(p []byte) {
	c.out.Write(p)
	if c.hasFiles() {
		c.slow.tail += len(p)
	}
}

// killWith asks for an immediate close with err once the callback returns.
func (c *conn) killWith(err error) {
	if !c.kill {
		c.kill, c.cerr = true, err
	}
}

// AsyncSendFile queues n bytes of f from offset off, written with
// sendfile(2) after everything queued before it and before everything
// queued after. The caller keeps f open until done runs (it must not be
// nil). The file's own offset is not used or changed. Any goroutine.
func (c *conn) AsyncSendFile(f *os.File, off, n int64, done WriteDone) error {
	if done == nil {
		return ErrNilDone
	}
	if err := c.admitWrite(1); err != nil {
		return err
	}
	if n <= 0 {
		c.l.push(task{kind: taskWrite, c: c, done: done})
	} else {
		c.l.push(task{kind: taskSendFile, c: c, arg: &fileSeg{f: f, off: off, remain: n, done: done}})
	}
	return nil
}

func (c *conn) Writev(bufs [][]byte) (int, error) { return writeEach(c.Write, bufs) }

func (c *conn) SetIdleTimeout(d time.Duration) {
	if c.closed {
		return
	}
	c.idle = int64(max(d, 0))
	c.l.armTimer(c)
}

func (c *conn) SetDeadline(t time.Time) {
	if c.closed {
		return
	}
	if t.IsZero() {
		c.deadline = 0
	} else {
		c.deadline = max(int64(t.Sub(c.l.base)), 1)
	}
	c.l.armTimer(c)
}

func (c *conn) SetContext(ctx any) { c.ctx = ctx }
func (c *conn) Context() any       { return c.ctx }

// --- any goroutine ---

func (c *conn) AsyncWrite(p []byte, done WriteDone) error {
	if err := c.admitWrite(1); err != nil {
		return err
	}
	c.l.push(task{kind: taskWrite, c: c, buf: p, done: done})
	return nil
}

func (c *conn) AsyncWritev(bufs [][]byte, done WriteDone) error {
	if err := c.admitWrite(1); err != nil {
		return err
	}
	c.l.pushWritev(c, bufs, 1, done)
	return nil
}

func (c *conn) AsyncWriteBatch(bufs [][]byte, n int, done WriteDone) error {
	n = max(n, 1)
	if err := c.admitWrite(n); err != nil {
		return err
	}
	c.l.pushWritev(c, bufs, n, done)
	return nil
}

// admitWrite applies the pending limits to n more AsyncWrite messages (one
// write) and, if admitted, counts them as pending until the write settles.
func (c *conn) admitWrite(n int) error {
	if c.state.Load() != connOpen {
		return ErrConnClosed
	}
	e := c.l.e
	if max := e.cfg.MaxPendingTotal; max > 0 && e.pending.Load()+int64(n) > int64(max) {
		e.overload.Add(1)
		return ErrOverloaded
	}
	if max := e.cfg.MaxPendingPerConn; max > 0 && int(c.pending.Load())+n > max {
		c.l.push(task{kind: taskKill, c: c, arg: ErrOutboundFull})
		return ErrOutboundFull
	}
	c.pending.Add(int32(n))
	e.pending.Add(int64(n))
	return nil
}

func (c *conn) Run(fn func(Conn)) error {
	if c.state.Load() == connClosed {
		return ErrConnClosed
	}
	c.l.push(task{kind: taskRun, c: c, arg: fn})
	return nil
}

func (c *conn) AfterFunc(d time.Duration, fn func(Conn)) error {
	if c.state.Load() == connClosed {
		return ErrConnClosed
	}
	c.l.push(task{kind: taskAfter, c: c, arg: &afterFunc{c: c, fn: fn, d: d}})
	return nil
}

func (c *conn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	c.state.CompareAndSwap(connOpen, connClosing)
	c.l.push(task{kind: taskClose, c: c})
	return nil
}

func (c *conn) Pending() int { return int(c.pending.Load()) }
func (c *conn) ID() uint64   { return c.id }
func (c *conn) Loop() int    { return c.l.idx }

func (c *conn) RemoteAddr() net.Addr {
	if c.unix {
		return &net.UnixAddr{Net: "unix"}
	}
	return net.TCPAddrFromAddrPort(c.remote)
}

// LocalAddr asks the kernel while the connection is open (a listener bound to
// a wildcard address does not know which local address a peer reached) and
// falls back to the listener's address once it has closed. It may run on any
// goroutine while the loop closes the descriptor, and the kernel hands a
// closed descriptor's number to the next socket opened, so an answer counts
// only if the connection was still open after getsockname returned: the
// loop marks the connection closed before it closes the descriptor, so the
// descriptor still was this connection's socket during the call.
func (c *conn) LocalAddr() net.Addr {
	if c.unix {
		if c.lis != nil {
			return c.lis.addr
		}
		return &net.UnixAddr{Net: "unix"}
	}
	if c.state.Load() != connClosed {
		if testHookLocalAddr != nil {
			testHookLocalAddr(c)
		}
		ap := poll.LocalAddr(c.fd)
		if ap.IsValid() && c.state.Load() != connClosed {
			return net.TCPAddrFromAddrPort(ap)
		}
	}
	if c.lis != nil {
		return c.lis.addr
	}
	return &net.TCPAddr{}
}

// testHookLocalAddr, set by tests, runs in LocalAddr between its state check
// and getsockname.
var testHookLocalAddr func(c *conn)
