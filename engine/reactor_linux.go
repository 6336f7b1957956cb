package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reactor is the epoll backend: N loops, each with its own epoll instance,
// eventfd, task queue, timing wheel and connection table.
type reactor struct {
	e     *Engine
	loops []*loop
	wg    sync.WaitGroup // running loops

	mu sync.Mutex // guards rr
	rr int        // next loop for RoundRobin
}

func newReactor(e *Engine) (backend, error) {
	r := &reactor{e: e}
	for i := 0; i < e.cfg.Loops; i++ {
		l, err := newLoop(r, i)
		if err != nil {
			for _, l := range r.loops {
				l.closeFds()
			}
			return nil, fmt.Errorf("engine: create loop %d: %w", i, err)
		}
		r.loops = append(r.loops, l)
	}
	return r, nil
}

func (r *reactor) start() error {
	for _, l := range r.loops {
		r.wg.Add(1)
		go l.run()
	}
	return nil
}

// pick chooses the loop for a new connection.
func (r *reactor) pick() *loop {
	if len(r.loops) == 1 {
		return r.loops[0]
	}
	if r.e.cfg.Balance == LeastConns {
		best := r.loops[0]
		bn := best.nconns.Load()
		for _, l := range r.loops[1:] {
			if n := l.nconns.Load(); n < bn {
				best, bn = l, n
			}
		}
		return best
	}
	r.mu.Lock()
	l := r.loops[r.rr]
	r.rr = (r.rr + 1) % len(r.loops)
	r.mu.Unlock()
	return l
}

// addListener hands the listener's descriptor(s) to loops. With ReusePort
// every loop gets its own SO_REUSEPORT socket on the same address (the kernel
// balances); otherwise loop 0 accepts for all and balances itself.
func (r *reactor) addListener(ln *listener) error {
	fd, err := dupFd(ln.ln)
	if err != nil {
		return fmt.Errorf("engine: listener %s: %w", ln.addr, err)
	}
	if !r.e.cfg.ReusePort || ln.network == "unix" || len(r.loops) == 1 {
		r.loops[0].callSync(func(l *loop) { l.addListenFd(fd, ln) })
		return nil
	}
	r.loops[0].callSync(func(l *loop) { l.addListenFd(fd, ln) })
	for _, l := range r.loops[1:] {
		x, err := listenReuse(ln.network, ln.addr.String(), true)
		if err != nil {
			return fmt.Errorf("engine: reuseport listener for loop %d on %s: %w", l.idx, ln.addr, err)
		}
		ln.extra = append(ln.extra, x)
		xfd, err := dupFd(x)
		if err != nil {
			return err
		}
		l.callSync(func(l *loop) { l.addListenFd(xfd, ln) })
	}
	return nil
}

func (r *reactor) stopAccepting() {
	for _, l := range r.loops {
		l.callSync(func(l *loop) { l.closeListeners() })
	}
}

func (r *reactor) shutdown(ctx context.Context) error {
	for _, l := range r.loops {
		l.push(task{kind: taskShutdown})
	}
	exited := make(chan struct{})
	go func() { r.wg.Wait(); close(exited) }()
	var err error
	select {
	case <-exited:
	case <-ctx.Done():
		err = ctx.Err()
		for _, l := range r.loops {
			l.push(task{kind: taskForce})
		}
		<-exited
	}
	for _, l := range r.loops {
		l.closeFds()
	}
	return err
}

func (r *reactor) stats(s *Stats) {
	for _, l := range r.loops {
		l.ctr.addTo(s)
		s.Slots += l.gSlots.Load()
		s.FreeSlots += l.gFree.Load()
		s.Timers += l.gTimers.Load()
	}
}

func (r *reactor) each(fn func(c Conn)) {
	for _, l := range r.loops {
		l.callSync(func(l *loop) {
			for _, c := range l.conns {
				if c == nil || c.closed || c.closing {
					continue
				}
				l.callRun(c, fn)
				l.afterCallback(c)
			}
		})
	}
}

func (r *reactor) dial(ctx context.Context, network, address string, opts DialOptions) (Conn, error) {
	// KeepAlive -1: net.Dialer would turn TCP keep-alive on (15s probes)
	// for every dialed connection, where the engine's default is off
	// (Config.TCPKeepAlive, applied at registration as for accepted ones).
	// Held by the hundred thousand with heartbeats of their own, the
	// probes alone were most of a loopback test's CPU.
	d := net.Dialer{Timeout: opts.Timeout, Control: opts.Control, KeepAlive: -1}
	if opts.LocalAddr != "" {
		la, err := resolveLocal(network, opts.LocalAddr)
		if err != nil {
			return nil, err
		}
		d.LocalAddr = la
	}
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("engine: dial %s %s: %w", network, address, err)
	}
	fd, err := dupFd(nc)
	nc.Close()
	if err != nil {
		return nil, fmt.Errorf("engine: dial %s %s: %w", network, address, err)
	}
	if max := r.e.cfg.MaxConns; max > 0 && r.e.open.Add(1) > int64(max) {
		r.e.open.Add(-1)
		unix.Close(fd)
		return nil, ErrTooManyConns
	} else if max <= 0 {
		r.e.open.Add(1)
	}
	l := r.pick()
	c := newConn(l, fd)
	c.dialed = true
	c.ctx = opts.Context
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		c.remote = a.AddrPort()
	case *net.UnixAddr:
		c.unix = true
	}
	l.push(task{kind: taskRegister, c: c})
	return c, nil
}

func resolveLocal(network, s string) (net.Addr, error) {
	if network == "unix" {
		return &net.UnixAddr{Name: s, Net: "unix"}, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, fmt.Errorf("engine: bad DialOptions.LocalAddr %q: want IP or IP:port", s)
	}
	return net.TCPAddrFromAddrPort(ap), nil
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

// timeNow converts loop nanoseconds back to a time.Time.
func (l *loop) timeAt(ns int64) time.Time { return l.base.Add(time.Duration(ns)) }
