package engine

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
	"wharf/engine/internal/uring"
)

// The Uring backend is the reactor's loops with uringIO as their driver.
// What follows is the driver: how a loop's work becomes io_uring requests,
// and their completions the loop's events.
//
// Ownership of memory, which is what completion I/O is about:
//
//   - Inbound bytes land in a per-loop provided buffer ring (uring.BufRing),
//     chosen by the kernel only when data arrives, so an idle connection's
//     armed multishot receive pins nothing. A buffer belongs to the kernel
//     until a receive CQE names it; the loop then hands its bytes to OnData
//     as the read view (as the reactor does with its per-loop read buffer),
//     copies what the handler left unconsumed into the connection's elastic
//     buffer, and gives the buffer back in the same turn. No buffer is held
//     across loop turns, so the ring only needs to cover one turn's data.
//   - Outbound bytes stay in the connection's elastic buffer (c.out); a
//     send request points into its chunks. They are pinned, neither
//     discarded nor reset, until the send's CQE: then the bytes sent are
//     discarded. A connection closed with a send in flight keeps its chunks
//     and its slot (u.zombies) until that CQE, so the kernel never reads
//     memory that another connection has been given. One send per
//     connection is in flight at a time; what callbacks write meanwhile is
//     appended after the pinned bytes and goes with the next send.
//   - A file range (AsyncSendFile) is spliced file → pipe → socket by the
//     kernel; the caller's done runs only once the kernel is through with
//     the file, even when the connection closes first.
//
// Batching: every request a loop turn makes (sends of every connection
// written to, re-armed receives, closes, cancellations) is queued in the
// submission ring and handed over by the single io_uring_enter that also
// collects the next turn's completions; with IORING_SETUP_DEFER_TASKRUN the
// kernel does the receive work itself inside that call, on the loop's
// thread.
//
// Stale completions: requests carry the connection's slot and
// registration sequence in their user data, as the reactor's epoll events
// do, so a completion of a closed connection never reaches the connection
// that reuses its slot; its provided buffer still goes back to the ring.

// Requests in flight for a connection (conn.ureq).
const (
	uringRecv   uint8 = 1 << iota // a multishot receive is armed
	uringSend                     // a send of c.sending bytes is in flight
	uringSplice                   // the first file segment is being spliced
)

// User data of a request: sequence<<32 | op<<24 | slot. For udSendmsg the
// slot field is an index in uringIO.msgs, for udAccept one in loop.lfds.
const (
	udRecv       uint8 = iota + 1
	udSend             // a send of one buffer
	udSendmsg          // a gathering send (uringIO.msgs)
	udAccept           // a listener's multishot accept
	udSpliceIn         // file → pipe
	udSpliceOut        // pipe → socket
	udSplicePoll       // waiting for the socket to take more of the pipe
	udWake             // the multishot poll on the wake eventfd (BlockingWait)
	udNoop             // cancellations and closes: a CQE only if they fail
)

const maxUringSlots = 1 << 24

func userData(op uint8, slot int32, seq uint32) uint64 {
	return uint64(seq)<<32 | uint64(op)<<24 | uint64(uint32(slot)&(maxUringSlots-1))
}

func splitUserData(ud uint64) (op uint8, slot int32, seq uint32) {
	return uint8(ud >> 24), int32(ud & (maxUringSlots - 1)), uint32(ud >> 32)
}

// Ring sizes, per loop.
const (
	uringEntries = 1024 // SQEs: one turn's requests go in one submission; more means an extra io_uring_enter
	uringCQ      = 4096 // CQEs reaped between two turns; overflow is kept by the kernel (FeatNoDrop), not lost

	// The provided buffers. With incremental consumption (Linux 6.12)
	// receives fill a buffer piece by piece, so a few large buffers serve
	// thousands of small messages; without it every receive takes a whole
	// buffer. Either way the pool is 512 KiB of address space, resident
	// once used: about 35 bytes per connection at 15,000 connections.
	uringIncBuffers  = 8
	uringIncSize     = 64 << 10
	uringFullBuffers = 128
	uringFullSize    = 4 << 10

	uringBufGroup = 0
	drainTimeout  = 5 * time.Second
)

// uringIO is the io_uring driver of one loop. It is owned by the loop's
// goroutine, which stays on one OS thread (the ring's single issuer), except
// wake (any goroutine) and close (after the loop is gone).
type uringIO struct {
	l      *loop
	ring   *uring.Ring
	bufs   *uring.BufRing
	efd    int          // eventfd: other goroutines' wake-ups; when parking, also the kernel's "completions waiting"
	parker *poll.Parker // parks the idle loop on efd (nil with BlockingWait); owns efd
	try    func() bool  // parkCheck, bound once
	perr   error        // an error parkCheck met
	cqes   []uring.CQE

	msgs     []*sendMsg // gathering sends in flight, by index (udSendmsg)
	freeMsgs []int32
	zombies  []*conn            // closed connections whose send is in flight
	splices  map[uint64]*splice // file transfers, by connection (slot and sequence)
	accepts  []bool             // by listener index: its multishot accept is armed
	recvs    int                // multishot receives armed, closed connections' included, until their last CQE
	naccept  int                // multishot accepts armed, likewise
	wakeOn   bool               // BlockingWait: the poll on efd is armed
	done     bool               // close ran
}

// sendMsg is a gathering send's message header and iovecs, which the
// kernel reads until the send's CQE.
type sendMsg struct {
	c   *conn
	iov []unix.Iovec
	hdr unix.Msghdr
}

// splice is a connection's file transfer: the pipe it goes through and
// the requests in flight.
type splice struct {
	c       *conn
	pipe    [2]int // read end, write end
	inPipe  int    // bytes in the pipe, not yet on the socket
	reqs    int    // requests in flight
	aborted *fileSeg
}

func newUringIO(l *loop) (ioDriver, error) {
	u := &uringIO{l: l, efd: -1, cqes: make([]uring.CQE, 256), splices: map[uint64]*splice{}}
	u.try = u.parkCheck
	var err error
	// Disabled: the ring is bound to the thread that enables it, the loop's.
	if u.ring, err = uring.New(uring.Options{Entries: uringEntries, CQEntries: uringCQ, Disabled: true}); err != nil {
		return nil, &OpError{Op: "io_uring_setup", Err: err}
	}
	if u.bufs, err = u.ring.NewBufRing(uringBufGroup, uringIncBuffers, uringIncSize, true); err == nil && !u.bufs.Incremental() {
		u.bufs.Close()
		u.bufs, err = u.ring.NewBufRing(uringBufGroup, uringFullBuffers, uringFullSize, false)
	}
	if err != nil {
		u.ring.Close()
		return nil, &OpError{Op: "register buffer ring", Err: err}
	}
	if u.efd, err = poll.NewEventfd(); err != nil {
		u.close()
		return nil, &OpError{Op: "eventfd", Err: err}
	}
	if !l.cfg.BlockingWait {
		if err = u.ring.RegisterEventfd(u.efd); err == nil {
			if u.parker, err = poll.NewParker(u.efd, "uring eventfd"); err != nil {
				u.efd = -1 // NewParker closed it
			}
		}
		if err != nil {
			u.close()
			return nil, &OpError{Op: "io_uring eventfd", Err: err}
		}
		u.ring.SetEventfdEnabled(false) // on only while the loop sleeps
	}
	return u, nil
}

func (u *uringIO) needsThread() bool { return true }

func (u *uringIO) start() error {
	if err := u.ring.Enable(); err != nil {
		return err
	}
	u.armWake()
	return nil
}

// sqe returns a free SQE, submitting the queue when it is full.
func (u *uringIO) sqe() *uring.SQE {
	for {
		if s := u.ring.GetSQE(); s != nil {
			return s
		}
		if _, err := u.ring.Submit(); err != nil {
			u.l.log.Error("engine: io_uring submit", "loop", u.l.idx, "err", err)
			u.ring.SubmitAndGet() // runs the work a full completion queue held back
		}
	}
}

func (u *uringIO) cancel(ud uint64) {
	s := u.sqe()
	s.PrepCancel(ud, 0)
	s.Flags |= uring.SQECQESkip
	s.UserData = userData(udNoop, 0, 0)
}

func msDuration(ms int) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

func (u *uringIO) wait(ms int) (int, error) {
	r := u.ring
	// The turn's one io_uring_enter: this turn's requests in, the
	// completions the kernel has for this thread out. A busy loop goes
	// on at once; only an idle one sleeps (and enters once more then).
	err := r.SubmitAndGet()
	if err == nil && ms != 0 && r.Ready() == 0 && !r.WorkPending() {
		if u.parker == nil {
			err = r.Wait(msDuration(ms))
		} else {
			err = u.park(ms)
		}
	}
	// A wake-up pushed while the loop said it was sleeping is spent now,
	// whether or not the loop slept. With BlockingWait its eventfd write
	// becomes a completion that clears it; when parking nothing would, and
	// a wakePending left set would keep every later push from waking the
	// loop. An eventfd write still on its way only makes a later park
	// return once for nothing.
	if ms != 0 && u.parker != nil && u.l.wakePending.Swap(false) {
		u.l.ctr.wakeups.Add(1)
	}
	return int(r.Ready()), err
}

// park sleeps on the eventfd until the ring signals it, another goroutine
// writes it, or ms milliseconds pass. The ring's signals are off while the
// loop runs (its own completions need no wake-up) and on while it sleeps;
// parkCheck submits, runs the deferred completion work and looks for
// results after switching them on, so nothing arriving around the switch
// is missed.
func (u *uringIO) park(ms int) error {
	r := u.ring
	r.SetEventfdEnabled(true)
	u.perr = nil
	err := u.parker.Park(u.try, msDuration(ms))
	r.SetEventfdEnabled(false)
	if err == nil {
		err = u.perr
	}
	return err
}

// parkCheck is the parked loop's test: it submits what is queued, runs the
// completion work the kernel deferred to this thread, and reports whether
// there is anything to do.
func (u *uringIO) parkCheck() bool {
	if err := u.ring.SubmitAndGet(); err != nil {
		u.perr = err
		return true
	}
	return u.ring.Ready() > 0 || u.ring.WorkPending() || u.l.ntask.Load() > 0
}

func (u *uringIO) wake() error { return poll.WakeEventfd(u.efd) }

// armWake arms, with BlockingWait, the multishot poll that turns a write
// to the wake eventfd into a completion that ends io_uring_enter's wait.
// (When parking, the loop waits on the eventfd itself.)
func (u *uringIO) armWake() {
	if u.parker != nil || u.wakeOn {
		return
	}
	s := u.sqe()
	s.PrepPollAdd(u.efd, unix.POLLIN, true)
	s.UserData = userData(udWake, 0, 0)
	u.wakeOn = true
}

func (u *uringIO) dispatch(int) {
	for {
		n := u.ring.Reap(u.cqes)
		for i := 0; i < n; i++ {
			u.complete(&u.cqes[i])
		}
		if n < len(u.cqes) {
			return
		}
	}
}

func (u *uringIO) complete(cqe *uring.CQE) {
	op, slot, seq := splitUserData(cqe.UserData)
	switch op {
	case udRecv:
		u.received(cqe, slot, seq)
	case udSend:
		if c := u.conn(slot, seq); c != nil {
			u.sent(c, cqe.Res)
		} else if c := u.zombie(slot, seq); c != nil {
			u.bury(c)
		}
	case udSendmsg:
		m := u.msgs[slot]
		u.msgs[slot] = nil
		u.freeMsgs = append(u.freeMsgs, slot)
		c := m.c
		clear(m.iov)
		*m = sendMsg{iov: m.iov[:0]}
		if c.closed {
			u.bury(c)
		} else {
			u.sent(c, cqe.Res)
		}
	case udAccept:
		u.accepted(cqe, int(slot))
	case udSpliceIn, udSpliceOut, udSplicePoll:
		u.spliced(cqe, op, slot, seq)
	case udWake:
		u.l.wakePending.Store(false)
		u.l.ctr.wakeups.Add(1)
		if !cqe.More() {
			u.wakeOn = false
			if !u.l.closing {
				u.armWake()
			}
		}
	case udNoop:
		// A cancellation that found nothing (the request had completed)
		// or a failed close: nothing to do either way.
	}
}

// conn returns the open connection a request was made for, or nil if it
// has closed (and its slot may have a new connection).
func (u *uringIO) conn(slot int32, seq uint32) *conn {
	if int(slot) < len(u.l.conns) {
		if c := u.l.conns[slot]; c != nil && c.seq == seq {
			return c
		}
	}
	return nil
}

func (u *uringIO) zombie(slot int32, seq uint32) *conn {
	for _, c := range u.zombies {
		if c.slot == slot && c.seq == seq {
			return c
		}
	}
	return nil
}

func (u *uringIO) register(c *conn) error {
	if c.slot >= maxUringSlots {
		return fmt.Errorf("engine: more than %d connections on one io_uring loop", maxUringSlots)
	}
	u.armRecv(c)
	return nil
}

func (u *uringIO) armRecv(c *conn) {
	s := u.sqe()
	s.PrepRecvMultishot(c.fd, u.bufs.Group())
	s.UserData = userData(udRecv, c.slot, c.seq)
	c.ureq |= uringRecv
	u.recvs++
}

// received handles a receive CQE: data for the handler, the end of the
// stream, or the end of the multishot request.
func (u *uringIO) received(cqe *uring.CQE, slot int32, seq uint32) {
	l := u.l
	c := u.conn(slot, seq)
	if !cqe.More() {
		u.recvs--
		if c != nil {
			c.ureq &^= uringRecv
		}
	}
	if _, ok := cqe.BufferID(); ok {
		bid, p, recycle := u.bufs.Bytes(cqe)
		if c != nil && !c.closing && len(p) > 0 {
			l.ctr.reads.Add(1)
			l.ctr.bytesRead.Add(uint64(len(p)))
			c.lastRead = l.now
			if c.in.Len() == 0 {
				l.view, l.viewConn = p, c
			} else {
				c.in.Write(p)
			}
			l.dispatchData(c)
		}
		if recycle {
			u.bufs.Recycle(bid)
		}
	}
	if c == nil || c.closed || cqe.More() {
		return
	}
	// The multishot receive has ended.
	switch err := cqe.Err(); {
	case cqe.Res == 0:
		if !c.closing {
			l.gracefulClose(c, io.EOF)
		}
	case err == nil, err == unix.ENOBUFS:
		// Every buffer was in use (they are back now: none outlives a
		// turn), or the kernel stopped for its own reasons: go on.
		if !c.closing {
			u.armRecv(c)
		}
	case err == unix.ECANCELED:
	default:
		l.closeConn(c, &OpError{Op: "read", Err: err})
	}
}

func (u *uringIO) flush(c *conn) {
	c.dirty = false
	if c.closed || c.ureq&(uringSend|uringSplice) != 0 {
		return // the request in flight goes on when it completes
	}
	l := u.l
	if !c.hasOutput() {
		if c.closing {
			l.closeConn(c, c.cerr)
		}
		return
	}
	if c.hasFiles() && c.slow.files[0].before == 0 {
		u.spliceNext(c)
		return
	}
	limit := -1 // bytes that may go before the next file
	if c.hasFiles() {
		limit = c.slow.files[0].before
	}
	bufs := c.out.Slices(l.scratch[:0], limit)
	if len(bufs) > poll.MaxIovecs {
		bufs = bufs[:poll.MaxIovecs]
	}
	want := 0
	for _, b := range bufs {
		want += len(b)
	}
	s := u.sqe()
	if len(bufs) == 1 {
		s.PrepSend(c.fd, bufs[0], unix.MSG_NOSIGNAL)
		s.UserData = userData(udSend, c.slot, c.seq)
	} else {
		i, m := u.newMsg(c, bufs)
		s.PrepSendmsg(c.fd, &m.hdr, unix.MSG_NOSIGNAL)
		s.UserData = userData(udSendmsg, i, 0)
	}
	clear(bufs)
	l.scratch = bufs[:0]
	c.ureq |= uringSend
	c.sending = uint32(want)
	l.checkWatermark(c)
}

// newMsg fills a gathering send's header for bufs.
func (u *uringIO) newMsg(c *conn, bufs [][]byte) (int32, *sendMsg) {
	var i int32
	if n := len(u.freeMsgs); n > 0 {
		i = u.freeMsgs[n-1]
		u.freeMsgs = u.freeMsgs[:n-1]
	} else {
		i = int32(len(u.msgs))
		u.msgs = append(u.msgs, nil)
	}
	m := u.msgs[i]
	if m == nil {
		m = new(sendMsg)
	}
	u.msgs[i] = m
	m.c = c
	for _, b := range bufs {
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		m.iov = append(m.iov, v)
	}
	m.hdr = unix.Msghdr{Iov: &m.iov[0]}
	m.hdr.SetIovlen(len(m.iov))
	return i, m
}

// sent settles a send's CQE on an open connection.
func (u *uringIO) sent(c *conn, res int32) {
	l := u.l
	c.ureq &^= uringSend
	want := int(c.sending)
	c.sending = 0
	if res < 0 {
		l.closeConn(c, &OpError{Op: "write", Err: syscall.Errno(-res)})
		return
	}
	n := int(res)
	l.wroteOut(c, n)
	if n < want {
		l.ctr.writeBlocked.Add(1) // the socket took less: it was full
	}
	u.wrote(c)
}

// wrote settles what a completed send or splice moved: the AsyncWrites
// now on the socket, a graceful close waiting for the backlog, the
// watermarks, and the next send (queued with this turn's others).
func (u *uringIO) wrote(c *conn) {
	l := u.l
	if !l.settleOut(c) {
		return
	}
	if c.hasOutput() {
		l.markDirty(c)
	}
	l.checkWatermark(c)
}

// bury lets go of a closed connection whose last send has completed: the
// kernel no longer reads its outbound chunks, and its slot is free.
func (u *uringIO) bury(c *conn) {
	c.ureq &^= uringSend
	c.out.Reset()
	u.l.free = append(u.l.free, c.slot)
	for i, z := range u.zombies {
		if z == c {
			last := len(u.zombies) - 1
			u.zombies[i] = u.zombies[last]
			u.zombies[last] = nil
			u.zombies = u.zombies[:last]
			break
		}
	}
}

func (u *uringIO) release(c *conn) bool {
	if c.ureq&uringRecv != 0 {
		u.cancel(userData(udRecv, c.slot, c.seq))
		c.ureq &^= uringRecv // its last CQE is stale now, and counted in u.recvs
	}
	if c.ureq&uringSplice != 0 {
		u.abortSplice(c)
	} else if sp := u.splices[userData(0, c.slot, c.seq)]; sp != nil {
		u.endSplice(sp)
	}
	if u.l.cfg.Linger > 0 {
		// A lingering close blocks until the peer has the data: not in
		// the ring's submission, which runs without the scheduler's
		// knowledge (a raw system call), but in one that lets the
		// runtime hand the loop's P over meanwhile.
		unix.Close(c.fd)
	} else {
		s := u.sqe()
		s.PrepClose(c.fd)
		s.Flags |= uring.SQECQESkip
		s.UserData = userData(udNoop, 0, 0)
	}
	if c.ureq&uringSend == 0 {
		return false
	}
	// The send in flight still reads c.out: stop it, and keep the chunks
	// (and the slot) until its CQE says the kernel is done with them.
	ud := userData(udSend, c.slot, c.seq)
	for i, m := range u.msgs {
		if m != nil && m.c == c {
			ud = userData(udSendmsg, int32(i), 0)
		}
	}
	u.cancel(ud)
	u.zombies = append(u.zombies, c)
	return true
}

// --- listeners ---

func (u *uringIO) listen(lf *listenFd, idx int, _ bool) error {
	for len(u.accepts) <= idx {
		u.accepts = append(u.accepts, false)
	}
	if u.accepts[idx] {
		return nil
	}
	s := u.sqe()
	s.PrepAcceptMultishot(lf.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	s.UserData = userData(udAccept, int32(idx), 0)
	u.accepts[idx] = true
	u.naccept++
	return nil
}

func (u *uringIO) unlisten(lf *listenFd, idx int) {
	if idx < len(u.accepts) && u.accepts[idx] {
		u.cancel(userData(udAccept, int32(idx), 0))
		// Now, not at the next turn: the accept request holds the socket
		// open, and a caller of StopAccepting expects new connections to
		// be refused once it returns.
		if err := u.ring.SubmitAndGet(); err != nil {
			u.l.log.Error("engine: stop accepting", "addr", lf.ln.addr.String(), "err", err)
		}
	}
	unix.Close(lf.fd)
}

func (u *uringIO) accepted(cqe *uring.CQE, idx int) {
	l := u.l
	var lf *listenFd
	if idx < len(l.lfds) {
		lf = l.lfds[idx]
	}
	if !cqe.More() {
		u.naccept--
		u.accepts[idx] = false
	}
	if cqe.Res >= 0 {
		fd := int(cqe.Res)
		if lf == nil {
			unix.Close(fd) // accepted as the listener closed
			return
		}
		var addr netip.AddrPort
		if lf.ln.network != "unix" {
			addr = poll.PeerAddr(fd)
		}
		l.adopt(lf, fd, addr)
	} else if lf != nil {
		switch err := cqe.Err(); err {
		case unix.ECANCELED:
			return
		case unix.EINTR, unix.ECONNABORTED, unix.EAGAIN:
		case unix.EMFILE, unix.ENFILE:
			// Out of descriptors: shed the waiting connection with the
			// reserve descriptor rather than leave it hanging.
			if !l.shedOne(lf) {
				u.pause(lf, idx, err)
			}
		default:
			if err != unix.ENOBUFS && err != unix.ENOMEM {
				l.log.Error("engine: accept", "addr", lf.ln.addr.String(), "err", err)
			}
			u.pause(lf, idx, err)
		}
	}
	if lf != nil && !lf.paused && !l.closing {
		u.listen(lf, idx, false) // re-arms only if the request ended
	}
}

// pause stops accepting on lf for a moment (resumeAccept re-arms).
func (u *uringIO) pause(lf *listenFd, idx int, err error) {
	if u.accepts[idx] {
		u.cancel(userData(udAccept, int32(idx), 0))
	}
	u.l.pauseAccept(lf, err)
}

// --- files: splice file → pipe → socket ---

// spliceNext moves the first file segment on: into the pipe, or from the
// pipe to the socket.
func (u *uringIO) spliceNext(c *conn) {
	seg := &c.slow.files[0]
	if seg.chunk == 0 {
		// No more per round than the socket buffer holds, as the
		// reactor's sendfile (sendfileChunk says why).
		seg.chunk = sendfileChunk(c.fd)
	}
	key := userData(0, c.slot, c.seq)
	sp := u.splices[key]
	if sp == nil {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			u.l.closeConn(c, &OpError{Op: "pipe", Err: err})
			return
		}
		if seg.chunk > 64<<10 { // the default pipe size
			unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, int(seg.chunk))
		}
		sp = &splice{c: c, pipe: p}
		u.splices[key] = sp
	}
	s := u.sqe()
	if sp.inPipe > 0 {
		s.PrepSplice(sp.pipe[0], uring.NoOffset, c.fd, uring.NoOffset, uint32(sp.inPipe), 0)
		s.UserData = userData(udSpliceOut, c.slot, c.seq)
	} else {
		// A pipe takes what it has room for; a short splice just means
		// another round.
		s.PrepSplice(int(seg.f.Fd()), uint64(seg.off), sp.pipe[1], uring.NoOffset, uint32(min(seg.remain, seg.chunk)), 0)
		s.UserData = userData(udSpliceIn, c.slot, c.seq)
	}
	sp.reqs++
	c.ureq |= uringSplice
}

func (u *uringIO) spliced(cqe *uring.CQE, op uint8, slot int32, seq uint32) {
	l := u.l
	key := userData(0, slot, seq)
	sp := u.splices[key]
	if sp == nil {
		return
	}
	sp.reqs--
	c := sp.c
	if sp.aborted != nil || c.closed {
		if sp.reqs == 0 {
			u.endSplice(sp)
		}
		return
	}
	c.ureq &^= uringSplice
	seg := &c.slow.files[0]
	err := cqe.Err()
	switch {
	case op == udSplicePoll:
		if err != nil {
			l.closeConn(c, &OpError{Op: "sendfile", Err: err})
			return
		}
	case err == unix.EAGAIN && op == udSpliceOut:
		// The socket is full: wait until it takes more.
		s := u.sqe()
		s.PrepPollAdd(c.fd, unix.POLLOUT, false)
		s.UserData = userData(udSplicePoll, c.slot, c.seq)
		sp.reqs++
		c.ureq |= uringSplice
		l.ctr.writeBlocked.Add(1)
		return
	case err != nil:
		l.closeConn(c, &OpError{Op: "sendfile", Err: err})
		return
	case op == udSpliceIn:
		if cqe.Res == 0 { // the file ended before the range did
			l.closeConn(c, &OpError{Op: "sendfile", Err: io.ErrUnexpectedEOF})
			return
		}
		n := int(cqe.Res)
		seg.off += int64(n)
		seg.remain -= int64(n)
		sp.inPipe += n
	default: // udSpliceOut
		n := int(cqe.Res)
		sp.inPipe -= n
		c.written += uint64(n)
		l.ctr.writes.Add(1)
		l.ctr.bytesWritten.Add(uint64(n))
	}
	if seg.remain > 0 || sp.inPipe > 0 {
		u.spliceNext(c)
		return
	}
	// The segment is on the socket.
	l.fileSent(c)
	if !c.hasFiles() {
		u.endSplice(sp)
	}
	if !c.closed {
		u.wrote(c)
	}
}

// abortSplice stops the transfer of a closing connection. The segment in
// flight leaves the connection's list, so that its done runs only when the
// kernel is through with the file (endSplice), not at once with the others.
func (u *uringIO) abortSplice(c *conn) {
	sp := u.splices[userData(0, c.slot, c.seq)]
	for _, op := range []uint8{udSpliceIn, udSpliceOut, udSplicePoll} {
		u.cancel(userData(op, c.slot, c.seq))
	}
	c.ureq &^= uringSplice
	sl := c.slow
	seg := sl.files[0]
	sp.aborted = &seg
	sl.files = sl.files[1:]
}

// endSplice closes a transfer's pipe once nothing is in flight, and runs
// the done of an aborted segment.
func (u *uringIO) endSplice(sp *splice) {
	c := sp.c
	delete(u.splices, userData(0, c.slot, c.seq))
	unix.Close(sp.pipe[0])
	unix.Close(sp.pipe[1])
	if seg := sp.aborted; seg != nil {
		sp.aborted = nil
		u.l.callDone(c, seg.done, ErrConnClosed)
	}
}

// --- teardown ---

// drain waits, on the loop's thread, until the kernel has finished every
// request that points into memory the loop is about to give up: receives
// (the buffer ring), sends (the zombies' chunks), splices (the pipes),
// accepts, and the wake poll.
func (u *uringIO) drain() {
	if u.wakeOn {
		u.cancel(userData(udWake, 0, 0))
	}
	deadline := time.Now().Add(drainTimeout)
	for u.busy() {
		if time.Now().After(deadline) {
			u.l.log.Error("engine: io_uring requests still in flight at exit", "loop", u.l.idx,
				"receives", u.recvs, "accepts", u.naccept, "sends", len(u.zombies), "splices", len(u.splices))
			return
		}
		if err := u.ring.Wait(10 * time.Millisecond); err != nil {
			u.l.log.Error("engine: io_uring drain", "loop", u.l.idx, "err", err)
			return
		}
		u.dispatch(0)
	}
	if err := u.ring.SubmitAndGet(); err != nil { // the last closes
		u.l.log.Error("engine: io_uring drain", "loop", u.l.idx, "err", err)
	}
}

func (u *uringIO) busy() bool {
	return u.recvs > 0 || u.naccept > 0 || len(u.zombies) > 0 || len(u.splices) > 0 || u.wakeOn
}

func (u *uringIO) close() {
	if u.done {
		return
	}
	u.done = true
	// Closing the ring drops the buffer ring's registration; only the
	// loop's thread could unregister it, and it is gone.
	u.ring.Close()
	if !u.busy() {
		u.bufs.Unmap()
	} // else: a request may still be cancelled into the buffers; keep them mapped
	if u.parker != nil {
		u.parker.Close()
	} else if u.efd >= 0 {
		unix.Close(u.efd)
	}
	u.efd = -1
}

// --- choosing the backend ---

// uringProbe is what probing io_uring found, once per process.
var uringProbe struct {
	once sync.Once
	err  error // why the Uring backend cannot run here; nil if it can
}

// uringUnavailable reports why the Uring backend cannot run here, or nil.
// It creates a small ring and tries what the loops rely on: the opcodes,
// a provided buffer ring, and a multishot receive (Linux 6.0).
func uringUnavailable() error {
	uringProbe.once.Do(func() { uringProbe.err = probeUring() })
	return uringProbe.err
}

func probeUring() error {
	runtime.LockOSThread() // the probe ring's single issuer
	defer runtime.UnlockOSThread()
	r, err := uring.New(uring.Options{Entries: 8})
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Features()&uring.FeatExtArg == 0 || r.Features()&uring.FeatNoDrop == 0 || r.Features()&uring.FeatFastPoll == 0 {
		return errors.New("kernel too old: io_uring lacks EXT_ARG, NODROP or FAST_POLL")
	}
	p, err := r.Probe()
	if err != nil {
		return err
	}
	for _, op := range []struct {
		op   uint8
		name string
	}{
		{uring.OpAccept, "ACCEPT"}, {uring.OpRecv, "RECV"}, {uring.OpSend, "SEND"}, {uring.OpSendmsg, "SENDMSG"},
		{uring.OpSplice, "SPLICE"}, {uring.OpClose, "CLOSE"}, {uring.OpAsyncCancel, "ASYNC_CANCEL"}, {uring.OpPollAdd, "POLL_ADD"},
	} {
		if !p.Supports(op.op) {
			return fmt.Errorf("kernel lacks IORING_OP_%s", op.name)
		}
	}
	br, err := r.NewBufRing(0, 2, 64, false)
	if err != nil {
		return fmt.Errorf("no provided buffer rings: %w", err)
	}
	defer br.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	s := r.GetSQE()
	s.PrepRecvMultishot(fds[0], br.Group())
	s.UserData = 1
	if _, err := unix.Write(fds[1], []byte("probe")); err != nil {
		return err
	}
	var cqes [4]uring.CQE
	n := 0
	for deadline := time.Now().Add(time.Second); n == 0 && time.Now().Before(deadline); {
		if err := r.Wait(10 * time.Millisecond); err != nil {
			return err
		}
		n = r.Reap(cqes[:])
	}
	if n == 0 || cqes[0].Res != 5 || !cqes[0].More() {
		return errors.New("kernel lacks multishot receive (Linux 6.0)")
	}
	s = r.GetSQE()
	s.PrepCancel(1, 0)
	for deadline := time.Now().Add(time.Second); r.Reap(cqes[:]) == 0 && time.Now().Before(deadline); {
		r.Wait(10 * time.Millisecond)
	}
	return nil
}

// resolveKind turns Uring and Auto into the backend New builds: Uring where
// io_uring can run, else Reactor, with one log line when Uring was asked
// for by name. Auto is Uring where it runs because it measured fastest
// under load on every echo scenario (bench/RESULTS.md, round 2); the
// reactor stays the default Kind for its lower cost per round trip on
// mostly idle connections.
func resolveKind(cfg *Config) {
	switch cfg.Kind {
	case Uring:
		if err := uringUnavailable(); err != nil {
			cfg.Logger.Warn("engine: io_uring unavailable, using the epoll reactor", "err", err)
			cfg.Kind = Reactor
		}
	case Auto:
		cfg.Kind = Reactor
		if uringUnavailable() == nil {
			cfg.Kind = Uring
		}
	}
}
