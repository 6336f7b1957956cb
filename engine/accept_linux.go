// Accepting: the listening sockets a loop serves, accept with MaxConns
// admission and its answer to running out of descriptors (EMFILE: shed the
// waiting connection with a reserve descriptor, or pause accepting), and the
// registration that adopts an accepted or dialed connection on its loop.

package engine

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
	"wharf/timingwheel"
)

const (
	acceptBatch  = 128 // accepts per listener event, so one busy listener cannot starve the loop's connections
	pauseOnEMFIL = 100 * time.Millisecond
)

// listenFd is a listening socket served by one loop.
type listenFd struct {
	fd     int
	ln     *listener
	paused bool
	resume timingwheel.Timer // re-enables accept after EMFILE
	warned time.Time         // last "accept paused" log line (rate limit)
}

func (l *loop) addListenFd(fd int, ln *listener) {
	lf := &listenFd{fd: fd, ln: ln}
	idx := len(l.lfds)
	lf.resume.Init(func() { l.resumeAccept(lf, idx) })
	if err := l.io.listen(lf, idx, false); err != nil {
		l.log.Error("engine: register listener", "addr", ln.addr.String(), "err", err)
		unix.Close(fd)
		return
	}
	l.lfds = append(l.lfds, lf)
}

func (l *loop) closeListeners() {
	for i, lf := range l.lfds {
		if lf == nil {
			continue
		}
		l.wheel.Stop(&lf.resume)
		l.io.unlisten(lf, i)
		l.lfds[i] = nil
	}
}

func (l *loop) accept(lf *listenFd) {
	for i := 0; i < acceptBatch; i++ {
		fd, addr, err := poll.Accept(lf.fd)
		if err != nil {
			switch err {
			case unix.EAGAIN:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			case unix.EMFILE, unix.ENFILE:
				// Out of descriptors. Shed the waiting connection instead of
				// leaving it to hang: free the reserve descriptor, accept,
				// close at once (counted as rejected), take the reserve back.
				if l.shedOne(lf) {
					continue
				}
				fallthrough
			case unix.ENOBUFS, unix.ENOMEM:
				// The listener stays readable: stop watching it for a
				// moment instead of spinning.
				idx := -1
				for j, x := range l.lfds {
					if x == lf {
						idx = j
					}
				}
				l.poller.Mod(lf.fd, 0, int32(-1-idx), 0)
				l.pauseAccept(lf, err)
			default:
				l.log.Error("engine: accept", "addr", lf.ln.addr.String(), "err", err)
			}
			return
		}
		l.adopt(lf, fd, addr)
	}
}

// pauseAccept stops accepting on lf for pauseOnEMFIL (the driver has
// stopped watching it), saying so in the log at most every 10s.
func (l *loop) pauseAccept(lf *listenFd, err error) {
	if now := l.nowTime; now.Sub(lf.warned) > 10*time.Second {
		lf.warned = now
		l.log.Warn("engine: accept paused", "addr", lf.ln.addr.String(), "err", err, "pause", pauseOnEMFIL)
	}
	lf.paused = true
	l.wheel.Schedule(&lf.resume, l.nowTime.Add(pauseOnEMFIL))
}

// adopt serves a connection accepted on lf: counted against MaxConns (or
// closed at once and counted as rejected), then registered on the loop the
// balancer picks.
func (l *loop) adopt(lf *listenFd, fd int, addr netip.AddrPort) {
	if max := l.cfg.MaxConns; max > 0 {
		if l.e.open.Add(1) > int64(max) {
			l.e.open.Add(-1)
			l.ctr.rejected.Add(1) // counted before the peer can see the close
			unix.Close(fd)
			return
		}
	} else {
		l.e.open.Add(1)
	}
	target := l.r.pick()
	c := newConn(target, fd)
	c.remote = addr
	c.lis = lf.ln
	c.unix = lf.ln.network == "unix"
	if target == l {
		l.register(c)
	} else {
		target.push(task{kind: taskRegister, c: c})
	}
}

// shedOne accepts one connection with the loop's reserve descriptor and
// closes it at once, for when the process is out of descriptors. It reports
// false when there is no reserve or nothing to accept.
func (l *loop) shedOne(lf *listenFd) bool {
	if l.reserve < 0 {
		return false
	}
	unix.Close(l.reserve)
	l.reserve = -1
	fd, _, err := poll.Accept(lf.fd)
	if err == nil {
		l.ctr.rejected.Add(1)
		unix.Close(fd)
	}
	l.reserve, _ = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if now := l.nowTime; err == nil && now.Sub(lf.warned) > 10*time.Second {
		lf.warned = now
		l.log.Warn("engine: out of file descriptors, closing new connections", "addr", lf.ln.addr.String())
	}
	return err == nil
}

func (l *loop) resumeAccept(lf *listenFd, idx int) {
	if l.lfds[idx] != lf || !lf.paused {
		return
	}
	lf.paused = false
	if err := l.io.listen(lf, idx, true); err != nil {
		l.log.Error("engine: resume accept", "addr", lf.ln.addr.String(), "err", err)
	}
}

// register adopts a new connection: slot, epoll, socket options, timers,
// then OnOpen.
func (l *loop) register(c *conn) {
	if l.closing {
		l.dropUnregistered(c)
		return
	}
	if !c.unix {
		l.setSockopts(c.fd)
	}
	var slot int32
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = int32(len(l.conns))
		l.conns = append(l.conns, nil)
	}
	l.seq++
	c.slot, c.seq = slot, l.seq
	if err := l.io.register(c); err != nil {
		l.free = append(l.free, slot)
		l.dropUnregistered(c)
		l.log.Error("engine: register connection", "loop", l.idx, "err", err)
		return
	}
	l.conns[slot] = c
	l.nconns.Add(1)
	if c.dialed {
		l.ctr.dialed.Add(1)
	} else {
		l.ctr.accepted.Add(1)
	}
	c.lastRead = l.now
	c.idle = int64(l.cfg.IdleTimeout)
	if c.idle > 0 {
		l.armTimer(c)
	}
	l.callOpen(c)
	l.afterCallback(c)
}

func (l *loop) setSockopts(fd int) {
	cfg := l.cfg
	if !cfg.TCPDelay {
		poll.SetNoDelay(fd, true)
	}
	if cfg.TCPKeepAlive > 0 {
		poll.SetKeepAlive(fd, cfg.TCPKeepAlive)
	}
	if cfg.SocketRecvBuffer > 0 {
		poll.SetRecvBuffer(fd, cfg.SocketRecvBuffer)
	}
	if cfg.SocketSendBuffer > 0 {
		poll.SetSendBuffer(fd, cfg.SocketSendBuffer)
	}
	switch {
	case cfg.Linger < 0:
		poll.SetLinger(fd, 0)
	case cfg.Linger > 0:
		poll.SetLinger(fd, int((cfg.Linger+time.Second-1)/time.Second))
	}
}
