package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/iplimit"
	"wharf/packet"
)

// Transport is a source of connections other than the server's own TCP
// engine (the kcp package provides one). It drives the server's
// engine.Handler (Server.Handler) with its connections; the server uses it to
// visit them, stop it, and merge its counters.
type Transport interface {
	// Name identifies the transport in stats ("kcp").
	Name() string
	// Each runs fn for every open connection, serialised with its callbacks.
	Each(fn func(c engine.Conn))
	// StopAccepting stops taking new connections.
	StopAccepting()
	// Shutdown closes every connection and stops the transport.
	Shutdown(ctx context.Context) error
	// Stats returns the transport's engine-style counters.
	Stats() engine.Stats
}

// Server is the message server: it decodes packets, guards against floods
// and malformed input, answers pings on the event loops, runs handlers on a
// bounded worker pool with per-connection order, and keeps the seed's send
// queue limits, heartbeat timeouts and stats. Create it with New.
type Server struct {
	cfg    Config
	router *Router
	eng    *engine.Engine
	h      *connHandler
	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc

	runq    chan *Conn    // connections with queued requests, for the workers
	quit    chan struct{} // closed to stop the workers
	queued  atomic.Int64  // requests waiting in mailboxes
	busy    atomic.Int64  // requests being handled
	workers sync.WaitGroup
	ctr     counters
	latency Histogram
	kicks   kickLog

	closeHooks atomic.Pointer[[]func(*Conn)] // OnClose's; copied on write

	perSource *iplimit.Conns // MaxConnectionsPerIP's counts; nil without a limit

	floodCost    int64 // FloodByRate: ns of bucket one packet takes
	floodWindow  int64 // FloodByRate: ns of bucket FloodBurst packets take
	batchPackets int   // packets in a reply batch before it is handed on (see Conn.out)

	mu         sync.Mutex // guards the fields below
	transports []Transport
	started    bool
	stopped    bool
	statsStop  chan struct{}
	statsDone  chan struct{}
	done       chan struct{} // closed when Shutdown finished
}

// New returns a server that routes requests with router. Listeners are added
// with Listen; nothing runs before Start or Serve.
func New(cfg Config, router *Router) (*Server, error) {
	if router == nil {
		return nil, errors.New("server: nil Router")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		router: router,
		runq:   make(chan *Conn, cfg.HandlerQueue),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.closeHooks.Store(new([]func(*Conn)))
	s.floodCost = int64(float64(time.Second) / cfg.FloodRate)
	s.floodWindow = s.floodCost * int64(cfg.FloodBurst)
	// A batch counts as its packets against MaxPendingPerConn, so one
	// batch stays well under it; 64 is four turns' worth of replies.
	s.batchPackets = min(max(cfg.MaxPendingPerConn/4, 1), 64)
	s.kicks.init(cfg.KickLogRate)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.h = &connHandler{s: s, ping: mustEncode(packet.CodePing, nil),
		sourceLimit: encodeError(packet.CodePing, "too many connections from your address")}
	if cfg.MaxConnectionsPerIP > 0 {
		s.perSource, _ = iplimit.NewConns(cfg.MaxConnectionsPerIP)
	}
	s.eng, err = engine.New(cfg.Engine, s.h)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return s, nil
}

func mustEncode(code uint16, body []byte) []byte {
	p, err := packet.Encode(code, body)
	if err != nil {
		panic(err)
	}
	return p
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Engine is the server's TCP engine.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Handler is the engine.Handler that feeds connections to the server; other
// transports (Attach) drive it with their connections.
func (s *Server) Handler() engine.Handler { return s.h }

// Listen adds a TCP or Unix listener (see engine.Engine.Listen) and returns its
// address.
func (s *Server) Listen(addr string) (net.Addr, error) { return s.eng.Listen(addr) }

// AddListener serves an existing listener (for example one inherited from a
// master process).
func (s *Server) AddListener(ln net.Listener) error { return s.eng.AddListener(ln) }

// Attach adds a transport whose connections the server serves alongside its
// own; Shutdown stops it.
func (s *Server) Attach(t Transport) {
	s.mu.Lock()
	s.transports = append(s.transports, t)
	s.mu.Unlock()
}

func (s *Server) transportList() []Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Transport(nil), s.transports...)
}

// Start starts the workers, the stats logger and the engine, and returns.
// Called a second time it returns ErrStarted; after Shutdown it returns
// ErrServerClosed.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.started {
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.mu.Unlock()
	for range s.cfg.Handlers {
		s.workers.Add(1)
		go s.work()
	}
	if s.cfg.StatsInterval > 0 {
		s.statsStop, s.statsDone = make(chan struct{}), make(chan struct{})
		go s.statsLoop(s.statsStop, s.statsDone)
	}
	return s.eng.Start()
}

// Serve starts the server and blocks until Shutdown has finished, then
// returns ErrServerClosed. Like Start, it returns ErrStarted at once on a
// server already started, and ErrServerClosed after Shutdown.
func (s *Server) Serve() error {
	if err := s.Start(); err != nil {
		return err
	}
	<-s.done
	return ErrServerClosed
}

// Done is closed when Shutdown has finished.
func (s *Server) Done() <-chan struct{} { return s.done }

// StopAccepting closes the listeners of every transport; connections stay.
func (s *Server) StopAccepting() {
	s.eng.StopAccepting()
	for _, t := range s.transportList() {
		t.StopAccepting()
	}
}

// Drain stops accepting and waits until every client has gone or ctx is
// done, then shuts down (with a short grace for the last replies). It is the
// graceful stop used for reloads and upgrades.
func (s *Server) Drain(ctx context.Context) error {
	s.StopAccepting()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.Online() > 0 {
		select {
		case <-ctx.Done():
			return s.shutdown(5*time.Second, ctx.Err())
		case <-tick.C:
		}
	}
	return s.shutdown(5*time.Second, nil)
}

func (s *Server) shutdown(grace time.Duration, result error) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil && result == nil {
		result = err
	}
	return result
}

// Shutdown stops the server gracefully: it stops accepting, lets queued
// requests finish so their replies are sent, tells every client with a code 1
// packet {"code":0,"error":"server shutting down"}, writes what is queued and
// closes every connection, then stops the workers. When ctx ends first the
// remaining work is abandoned and ctx.Err() returned. Serve then returns
// ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		select {
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.stopped = true
	started := s.started
	s.mu.Unlock()
	defer close(s.done)
	s.StopAccepting()
	var firstErr error
	if started {
		// Let handlers finish what is queued, so no accepted request goes
		// unanswered.
		for s.queued.Load()+s.busy.Load() > 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		bye := encodeError(packet.CodePing, "server shutting down")
		notify := func(ec engine.Conn) { ec.AsyncWrite(bye, nil) }
		s.eng.Each(notify)
		for _, t := range s.transportList() {
			t.Each(notify)
		}
	}
	s.cancel()
	if err := s.eng.Shutdown(ctx); err != nil {
		firstErr = err
	}
	for _, t := range s.transportList() {
		if err := t.Shutdown(ctx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if started {
		close(s.quit)
		workersDone := make(chan struct{})
		go func() { s.workers.Wait(); close(workersDone) }()
		select {
		case <-workersDone:
		case <-ctx.Done():
			// A handler that ignores Request.Context is still running; it
			// is abandoned (its replies fail with ErrClosed).
			if firstErr == nil {
				firstErr = ctx.Err()
			}
		}
		if s.statsStop != nil {
			close(s.statsStop)
			<-s.statsDone
		}
		s.logStats()
	}
	return firstErr
}

// Online is the number of open connections over all transports.
func (s *Server) Online() int64 {
	n := s.eng.Stats().Open
	for _, t := range s.transportList() {
		n += t.Stats().Open
	}
	return n
}

// Broadcast sends one packet to every connection for which filter returns
// true (all connections when filter is nil), encoding it once. It holds no
// lock while sending. It reports how many connections it was queued for.
func (s *Server) Broadcast(code uint16, body []byte, filter func(c *Conn) bool) (int, error) {
	p, err := packet.Encode(code, body)
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	visit := func(ec engine.Conn) {
		c, ok := ec.Context().(*Conn)
		if !ok || c.closed.Load() || (filter != nil && !filter(c)) {
			return
		}
		if c.sendPacket(p) == nil {
			n.Add(1)
		}
	}
	s.eng.Each(visit)
	for _, t := range s.transportList() {
		t.Each(visit)
	}
	return int(n.Load()), nil
}

// schedule puts a connection with queued requests on the run queue. The
// send never blocks: the queue holds each connection at most once and only
// while it has queued requests, and there are at most HandlerQueue of those.
func (s *Server) schedule(c *Conn) { s.runq <- c }

// requestsPerTurn is how many requests of one connection a worker serves
// before it lets other connections go first.
const requestsPerTurn = 16

// work is a worker: it takes a connection from the run queue and serves up
// to requestsPerTurn of its requests (a turn), then the next connection.
// The replies of a turn go to the transport together when it ends (see
// Conn.out); busy counts the turn until then, so that Shutdown's notice
// cannot overtake them. Once the mailbox is empty the connection may be
// scheduled again while the worker still hands on its batch: the next
// worker's replies then join that batch, or go out after it, in order.
func (s *Server) work() {
	defer s.workers.Done()
	w := &worker{s: s}
	w.r = Request{srv: s, w: w}
	for {
		var c *Conn
		select {
		case c = <-s.runq:
		case <-s.quit:
			return
		}
		s.busy.Add(1)
		c.beginTurn()
		left, more := requestsPerTurn, true
		for left > 0 && more {
			left, more = w.serve(c, left)
		}
		// more: the turn is full, and requests may wait (inbox cleared
		// scheduled otherwise).
		more = more && c.finishTurn()
		c.endTurn()
		w.sent()
		w.r = Request{srv: s, w: w} // pin neither the connection nor the inbox
		s.busy.Add(-1)
		if more {
			s.schedule(c) // back of the queue: other connections go first
		}
	}
}

// worker is one of the goroutines that run handlers (Config.Handlers).
type worker struct {
	s *Server
	r Request // the request being served, refilled for each one
	// Arrival times of the requests whose replies wait in the reply
	// batch: their latency is observed when the batch is handed on.
	replied []time.Time
}

// answered notes that r's reply joined the reply batch.
func (w *worker) answered(r *Request) { w.replied = append(w.replied, r.Received) }

// sent observes the latency of the replies just handed to the transport,
// reading the clock once for all of them.
func (w *worker) sent() {
	if len(w.replied) == 0 {
		return
	}
	d0 := time.Since(w.replied[0])
	for _, at := range w.replied {
		w.s.latency.Observe(d0 + w.replied[0].Sub(at))
	}
	clear(w.replied)
	w.replied = w.replied[:0]
}

// serve serves up to left requests of c's mailbox, in order, with the
// worker's r, and returns how many more the turn may serve. more is false
// once the mailbox is empty. A handler panic is recovered, counted and
// answered, and ends the call with more true, so that one deferred
// function covers a run of requests rather than each.
func (w *worker) serve(c *Conn, left int) (rest int, more bool) {
	s, r := w.s, &w.r
	defer func() {
		if p := recover(); p != nil {
			s.ctr.panics.Add(1)
			s.cfg.Logger.Error("server: handler panic", "code", r.Code, "conn", r.Conn.ID(), "panic", p, "stack", string(debug.Stack()))
			if !r.replied {
				r.Error("internal error")
			}
			rest, more = left-1, true // the request that panicked was served
		}
	}()
	for ; left > 0; left-- {
		in := c.inbox()
		if in == nil {
			return left, false
		}
		code, marker, at, body, _ := in.next()
		if marker {
			c.markers.Add(-1)
			if !c.closed.Load() {
				c.sendError(code, "overloaded")
			}
			continue
		}
		c.queued.Add(-1)
		s.queued.Add(-1)
		if c.closed.Load() {
			continue // nobody to answer
		}
		r.Conn, r.Code, r.Body, r.Received, r.replied = c, code, body, at, false
		if h := s.router.Lookup(code); h != nil {
			h.ServePacket(r)
		} else {
			s.ctr.unknown.Add(1)
			r.Error(fmt.Sprintf("unknown code %d", code))
		}
		if !r.replied { // no reply to wait for: the handler's return ends it
			s.latency.Observe(time.Since(r.Received))
		}
	}
	return 0, true
}

// connHandler adapts the server to engine.Handler, keeping those methods
// off Server's API.
type connHandler struct {
	s           *Server
	ping        []byte // the encoded ping reply
	sourceLimit []byte // the notice to a connection over MaxConnectionsPerIP
}

func (h *connHandler) OnOpen(ec engine.Conn) {
	s := h.s
	c := &Conn{srv: s, ec: ec}
	c.dec.MaxPacket = s.cfg.MaxPacket
	c.dec.MaxBadPackets = s.cfg.MaxBadPackets
	ec.SetContext(c)
	if s.perSource != nil {
		if k, ok := iplimit.KeyOfNetAddr(ec.RemoteAddr()); ok {
			if !s.perSource.Acquire(k) {
				c.refused = true
				s.ctr.kicks[KickSourceLimit].Add(1)
				s.kicks.log(s.cfg.Logger, KickSourceLimit, ec, ErrSourceLimit)
				ec.Write(h.sourceLimit)
				ec.Close()
				return
			}
			c.src = k
		}
	}
	if s.cfg.IdleTimeout > 0 {
		ec.SetDeadline(s.cfg.Clock().Add(s.cfg.IdleTimeout))
	}
}

func (h *connHandler) OnData(ec engine.Conn) error {
	s := h.s
	c := ec.Context().(*Conn)
	if c.refused {
		ec.Discard(-1)
		return nil
	}
	var now time.Time
	got := false
	for {
		code, body, err := c.dec.Next(ec)
		if err != nil {
			switch {
			case err == packet.ErrIncomplete:
			case errors.Is(err, packet.ErrChecksum):
				s.ctr.badPackets.Add(1)
				continue // dropped; the decoder turns the last straw into ErrTooManyBadPackets
			case errors.Is(err, packet.ErrTooManyBadPackets):
				s.ctr.badPackets.Add(1)
				return ErrBadPackets
			default:
				return fmt.Errorf("%w: %v", ErrFraming, err)
			}
			break
		}
		if !got {
			got = true
			now = s.cfg.Clock()
		}
		s.ctr.packetsIn.Add(1)
		if c.flooding(now) {
			return ErrFlood
		}
		if code == packet.CodePing {
			ec.Write(h.ping) // answered on the loop: heartbeats never wait for a worker
			s.ctr.packetsOut.Add(1)
			continue
		}
		switch c.enqueue(code, body, now) {
		case refuseNow:
			s.ctr.overloaded.Add(1)
			ec.Write(encodeError(code, "overloaded"))
			s.ctr.packetsOut.Add(1)
		case refuseLate:
			s.ctr.overloaded.Add(1)
		case refuseKick:
			s.ctr.overloaded.Add(1)
			return ErrTooManyPending
		}
	}
	if got && s.cfg.IdleTimeout > 0 {
		ec.SetDeadline(now.Add(s.cfg.IdleTimeout))
	}
	return nil
}

// flooding applies the flood guard to one more packet at now.
func (c *Conn) flooding(now time.Time) bool {
	cfg := &c.srv.cfg
	t := now.UnixNano()
	switch cfg.FloodMode {
	case FloodByRate:
		// The token bucket as a generic cell rate algorithm: last is the
		// theoretical arrival time of the next packet at the sustained
		// rate; a packet may come up to FloodBurst packets' worth early.
		tat := max(c.last, t) + c.srv.floodCost
		if tat-t > c.srv.floodWindow {
			return true
		}
		c.last = tat
		return false
	case FloodByInterval:
		// Seed 002's TestFlood: FloodCount consecutive packets each less
		// than FloodInterval after the previous one.
		if c.last != 0 && t-c.last < int64(cfg.FloodInterval) {
			c.hits++
		} else {
			c.hits = 1
		}
		c.last = t
		return c.hits >= cfg.FloodCount
	}
	return false
}

func (h *connHandler) OnClose(ec engine.Conn, err error) {
	s := h.s
	c, ok := ec.Context().(*Conn)
	if !ok {
		return
	}
	c.closed.Store(true)
	if c.src.IsValid() {
		s.perSource.Release(c.src)
	}
	if k, ok := KickOf(err); ok {
		s.ctr.kicks[k].Add(1)
		s.kicks.log(s.cfg.Logger, k, ec, err)
	}
	for _, fn := range *s.closeHooks.Load() {
		fn(c)
	}
}

// OnClose registers fn to run when a connection of any transport closes,
// on the transport's callback (its event loop: fn must not block), after
// the connection is marked closed. Applications use it to drop per-
// connection state (subscriptions, sessions). Hooks run in the order they
// were registered; register them before Start.
func (s *Server) OnClose(fn func(c *Conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hooks := append(append([]func(*Conn){}, *s.closeHooks.Load()...), fn)
	s.closeHooks.Store(&hooks)
}
