package engine

import (
	"context"
	"net"
	"sync"
	"time"
)

// ConnOptions tune a connection served with Engine.ServeConn. The zero value
// serves a net.Conn the way the goroutine backend serves an accepted TCP
// connection.
type ConnOptions struct {
	// Context is set as the Conn's context before OnOpen runs.
	Context any

	// MaxWrite bounds the bytes passed to one Write of the net.Conn; default
	// 0: unbounded. A transport whose Write accepts anything at once but
	// queues it out of the engine's sight (kcp-go queues whatever fits its
	// send window) passes its window, so that the backlog stays where
	// Config.MaxOutbound and MaxPendingPerConn see it.
	MaxWrite int

	// AsyncFlush writes what callbacks queue from a goroutine of its own
	// instead of the connection's reading goroutine. Set it when the
	// net.Conn's Write may block for long while the connection must go on
	// reading (kcp-go blocks a Write while the send window is full).
	AsyncFlush bool

	// Linger, if set, runs during a graceful close once the outbound
	// backlog has been written to the net.Conn, before the net.Conn is
	// closed: a transport without a close handshake waits there until the
	// peer has what was written (written is the byte count ever passed to
	// Write). It must return soon after d.Expired() reports true: the close
	// timeout passed, or a hard close overrode the graceful one.
	Linger func(written uint64, d Deadline)

	// ReadError, if set, maps an error returned by the net.Conn's Read to
	// the error OnClose receives. By default io.EOF closes with io.EOF and
	// any other error with an *OpError{Op: "read"}. A transport uses it to
	// name why it closed the net.Conn itself (an idle reaper, a replaced
	// session).
	ReadError func(err error) error

	// BeforeClose, if set, runs once when the connection is closing, just
	// before the net.Conn is closed and OnClose runs.
	BeforeClose func()
}

// Deadline bounds a wait inside a graceful close (ConnOptions.Linger).
type Deadline interface {
	// Expired reports whether the wait should end: the close timeout
	// passed or a hard close overrode the graceful one.
	Expired() bool
}

// ServeConn serves nc, a connection made outside the engine, as one of its
// own: with the engine's Handler, send queue, limits (Config.MaxConns,
// MaxOutbound, MaxInbound, MaxPendingPerConn, MaxPendingTotal), idle
// timeout, deadlines and timers read on Config.Clock, Each, Shutdown and
// Stats. KCP sessions, TLS connections, net.Pipe ends in tests: anything that
// is a net.Conn.
//
// The connection runs on goroutines of its own, whatever the engine's Kind:
// one goroutine reads nc and runs the callbacks (serialised, as on the
// goroutine backend), and writes go out from the goroutine that queued them
// or, with AsyncFlush, from a writer goroutine. Conn.Loop is 0. The engine
// takes ownership of nc: it closes it when the connection closes.
//
// ServeConn fails with ErrNotStarted before Start, ErrEngineClosed once
// Shutdown or StopAccepting began, and ErrTooManyConns over Config.MaxConns
// (counted in Stats.Rejected); nc is closed in each case. On success OnOpen
// runs (on the new goroutine) before any other callback.
func (e *Engine) ServeConn(nc net.Conn, opts ConnOptions) (Conn, error) {
	e.mu.Lock()
	started, stopping := e.started, e.stopping
	e.mu.Unlock()
	switch {
	case !started:
		nc.Close()
		return nil, ErrNotStarted
	case stopping:
		nc.Close()
		return nil, ErrEngineClosed
	case !e.admit():
		e.streams.ctr.rejected.Add(1)
		nc.Close()
		return nil, ErrTooManyConns
	}
	e.streams.ctr.accepted.Add(1)
	c := e.streams.serve(nc, opts, false)
	if c == nil {
		return nil, ErrEngineClosed
	}
	return c, nil
}

// gset is the set of connections an Engine serves on goroutines: every
// connection of the goroutine backend, and those given to ServeConn on any
// backend.
type gset struct {
	e   *Engine
	ctr counters

	mu      sync.Mutex // guards the fields below
	conns   map[*gconn]struct{}
	closing bool // Shutdown began: no new connections

	serving sync.WaitGroup // one per connection goroutine
}

func (s *gset) init(e *Engine) {
	s.e = e
	s.conns = make(map[*gconn]struct{})
}

// serve starts serving nc; the caller has admitted it (Engine.admit). It
// returns nil, with nc closed and the admission undone, once Shutdown began.
func (s *gset) serve(nc net.Conn, opts ConnOptions, dialed bool) *gconn {
	s.setSockopts(nc)
	c := newGconn(s, nc, opts, dialed)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		s.e.open.Add(-1)
		return nil
	}
	s.conns[c] = struct{}{}
	s.serving.Add(1)
	s.mu.Unlock()
	go c.serve()
	return c
}

func (s *gset) remove(c *gconn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.serving.Done()
}

func (s *gset) list() []*gconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*gconn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// shutdown closes every connection gracefully (at once when ctx ends) and
// waits for their goroutines.
func (s *gset) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	conns := s.list()
	for _, c := range conns {
		c.closeWith(ErrEngineClosed, true)
	}
	exited := make(chan struct{})
	go func() { s.serving.Wait(); close(exited) }()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.closeWith(ErrEngineClosed, false)
		}
		<-exited
		return ctx.Err()
	}
}

func (s *gset) each(fn func(c Conn)) {
	for _, c := range s.list() {
		c.mu.Lock()
		if !c.closed && c.reason.Load() == nil {
			c.call(func() { fn(c) })
		}
		c.mu.Unlock()
		c.afterCallback()
	}
}

func (s *gset) stats(st *Stats) {
	s.ctr.addTo(st)
	s.mu.Lock()
	st.Slots += int64(len(s.conns))
	s.mu.Unlock()
}

// checkTimers runs every connection's timers against the clock now, as if
// they had all fired. Timers are real-time timers computed from
// Config.Clock; a test that moves an injected clock calls this to make the
// engine look at it (the reactor's loops do the same when woken).
func (s *gset) checkTimers() {
	for _, c := range s.list() {
		c.onTimer()
		c.fireAfters()
	}
}

// setSockopts applies the engine's TCP settings (Config.TCPDelay,
// TCPKeepAlive, SocketRecvBuffer, SocketSendBuffer, Linger) to a TCP
// connection; other net.Conns are left as they are.
func (s *gset) setSockopts(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	cfg := &s.e.cfg
	tc.SetNoDelay(!cfg.TCPDelay)
	if cfg.TCPKeepAlive > 0 {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(cfg.TCPKeepAlive)
	} else {
		// net.Listen and net.Dial turn keep-alive on (15s) by default;
		// the engine's default is off, for accepted and dialed alike.
		tc.SetKeepAlive(false)
	}
	if cfg.SocketRecvBuffer > 0 {
		tc.SetReadBuffer(cfg.SocketRecvBuffer)
	}
	if cfg.SocketSendBuffer > 0 {
		tc.SetWriteBuffer(cfg.SocketSendBuffer)
	}
	switch {
	case cfg.Linger < 0:
		tc.SetLinger(0)
	case cfg.Linger > 0:
		tc.SetLinger(int((cfg.Linger + time.Second - 1) / time.Second))
	}
}
