package engine

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// goroutineEngine serves each connection on its own goroutine with the
// standard net package (the seeds' coroutine model: blocking code, the
// runtime's netpoller underneath). It only accepts, dials and ticks: its
// connections are the Engine's goroutine-served set (gset, gconn), the same
// machinery that serves ServeConn's foreign connections on every backend.
type goroutineEngine struct {
	e *Engine

	mu       sync.Mutex // guards the fields below
	started  bool
	closing  bool
	pending  []*listener // listeners added before start
	tickStop chan struct{}

	accepts sync.WaitGroup // accept goroutines
	ticking sync.WaitGroup // the ticker goroutine
}

func newGoroutineEngine(e *Engine) backend {
	return &goroutineEngine{e: e}
}

func (g *goroutineEngine) start() error {
	g.mu.Lock()
	g.started = true
	ls := g.pending
	g.pending = nil
	if t, ok := g.e.h.(Ticker); ok && g.e.cfg.TickInterval > 0 {
		g.tickStop = make(chan struct{})
		g.ticking.Add(1)
		go g.tickLoop(t, g.tickStop)
	}
	g.mu.Unlock()
	for _, l := range ls {
		g.accepts.Add(1)
		go g.acceptLoop(l)
	}
	return nil
}

func (g *goroutineEngine) tickLoop(t Ticker, stop chan struct{}) {
	defer g.ticking.Done()
	tk := time.NewTicker(g.e.cfg.TickInterval)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			func() {
				defer func() {
					if p := recover(); p != nil {
						recovered(g.e.cfg.Logger, &g.e.streams.ctr, "OnTick", 0, p)
					}
				}()
				t.OnTick(0, g.e.cfg.Clock())
			}()
		}
	}
}

func (g *goroutineEngine) addListener(l *listener) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return ErrEngineClosed
	}
	if !g.started {
		g.pending = append(g.pending, l)
		return nil
	}
	g.accepts.Add(1)
	go g.acceptLoop(l)
	return nil
}

func (g *goroutineEngine) acceptLoop(l *listener) {
	defer g.accepts.Done()
	s := &g.e.streams
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off instead of spinning.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			g.e.cfg.Logger.Warn("engine: accept", "addr", l.addr.String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !g.e.admit() {
			s.ctr.rejected.Add(1) // counted before the peer can see the close
			nc.Close()
			continue
		}
		s.ctr.accepted.Add(1)
		s.serve(nc, ConnOptions{}, false)
	}
}

// stopAccepting closes the listeners not yet served and waits until every
// accept loop has returned (Engine.StopAccepting closes the served ones
// first).
func (g *goroutineEngine) stopAccepting() {
	g.mu.Lock()
	g.closing = true
	ls := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, l := range ls {
		l.close()
	}
	g.accepts.Wait()
}

// shutdown stops the ticker; the connections are the Engine's gset, which
// Engine.Shutdown shuts down beside this.
func (g *goroutineEngine) shutdown(ctx context.Context) error {
	g.accepts.Wait()
	g.mu.Lock()
	if g.tickStop != nil {
		close(g.tickStop)
		g.tickStop = nil
	}
	g.mu.Unlock()
	g.ticking.Wait()
	return nil
}

func (g *goroutineEngine) dial(ctx context.Context, network, address string, opts DialOptions) (Conn, error) {
	d := net.Dialer{Timeout: opts.Timeout, Control: opts.Control, KeepAlive: -1} // see setSockopts
	if opts.LocalAddr != "" {
		la, err := resolveLocal(network, opts.LocalAddr)
		if err != nil {
			return nil, err
		}
		d.LocalAddr = la
	}
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, &OpError{Op: "dial " + network + " " + address, Err: err}
	}
	if !g.e.admit() {
		nc.Close()
		return nil, ErrTooManyConns
	}
	s := &g.e.streams
	s.ctr.dialed.Add(1)
	c := s.serve(nc, ConnOptions{Context: opts.Context}, true)
	if c == nil {
		return nil, ErrEngineClosed
	}
	return c, nil
}

// stats and each: the connections are in the Engine's gset.
func (g *goroutineEngine) stats(*Stats)      {}
func (g *goroutineEngine) each(func(c Conn)) {}
