package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"wharf/endpoint"
)

// Engine serves connections with one Handler on one backend. Create it with
// New, add listeners with Listen or AddListener, then Serve (or Start), and
// stop it with Shutdown. All methods are safe for concurrent use.
type Engine struct {
	cfg Config
	h   Handler
	be  backend

	open     atomic.Int64   // connections open (both directions), for MaxConns and Stats
	pending  atomic.Int64   // AsyncWrite messages not yet written, for MaxPendingTotal
	overload atomic.Uint64  // AsyncWrites refused by MaxPendingTotal
	nextID   *atomic.Uint64 // connection ids: connIDs, shared by every engine of the process
	streams  gset           // connections served on goroutines (the goroutine backend's, and ServeConn's)

	mu        sync.Mutex // guards the fields below
	listeners []*listener
	started   bool
	stopping  bool
	done      chan struct{} // closed when Shutdown has finished
	doneOnce  sync.Once
}

// connIDs numbers connections across every Engine of the process, so that
// connections of several engines (a server's TCP engine and its KCP
// sessions' engine, say) never share an ID.
var connIDs atomic.Uint64

// admit counts a new connection as open, unless Config.MaxConns is reached.
func (e *Engine) admit() bool {
	if max := e.cfg.MaxConns; max > 0 && e.open.Add(1) > int64(max) {
		e.open.Add(-1)
		return false
	} else if max <= 0 {
		e.open.Add(1)
	}
	return true
}

// reservePending counts n more unwritten AsyncWrite messages, unless that
// would take the engine over Config.MaxPendingTotal (counted as overloaded).
func (e *Engine) reservePending(n int64) bool {
	if max := e.cfg.MaxPendingTotal; max > 0 && e.pending.Load()+n > int64(max) {
		e.overload.Add(1)
		return false
	}
	e.pending.Add(n)
	return true
}

// backend is what a Kind implements.
type backend interface {
	// addListener starts serving l (before or after start).
	addListener(l *listener) error
	// start launches the loops; called once.
	start() error
	// stopAccepting closes every listener and waits until no loop accepts.
	stopAccepting()
	// shutdown closes every connection gracefully, forcibly once ctx is
	// done, and returns when all loops have exited.
	shutdown(ctx context.Context) error
	// dial connects and registers an outbound connection.
	dial(ctx context.Context, network, address string, opts DialOptions) (Conn, error)
	// stats adds the backend's counters to s.
	stats(s *Stats)
	// each runs fn for every open connection with its callbacks and returns
	// when done.
	each(fn func(c Conn))
}

// New validates cfg and returns an Engine that will run h. Nothing listens
// or runs until Listen and Start/Serve are called.
func New(cfg Config, h Handler) (*Engine, error) {
	if h == nil {
		return nil, fmt.Errorf("engine: nil Handler")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	resolveKind(&cfg)
	e := &Engine{cfg: cfg, h: h, nextID: &connIDs, done: make(chan struct{})}
	e.streams.init(e)
	switch cfg.Kind {
	case Reactor, Uring:
		e.be, err = newReactor(e)
		if err != nil && e.cfg.Kind == Uring {
			// Probing said yes, but the loops' rings could not be made
			// (resources): the reactor can still serve.
			cfg.Logger.Warn("engine: io_uring loops unavailable, using the epoll reactor", "err", err)
			e.cfg.Kind = Reactor
			e.be, err = newReactor(e)
		}
		if err != nil {
			return nil, err
		}
	default:
		e.be = newGoroutineEngine(e)
	}
	return e, nil
}

// Config returns the effective configuration (defaults applied).
func (e *Engine) Config() Config { return e.cfg }

// listenSchemes are the schemes Listen takes, the first implied.
var listenSchemes = endpoint.Schemes{"tcp", "tcp4", "tcp6", "unix"}

// Listen starts listening on addr and returns the bound address (useful with
// port 0). addr is "tcp://host:port", "tcp4://…", "tcp6://[…]:port",
// "unix:///path/to.sock" or a bare "host:port" (TCP), in the syntax of
// package endpoint; a malformed addr gives an error matching
// endpoint.ErrInvalid. It may be called before or after Start; several
// listeners serve one engine.
func (e *Engine) Listen(addr string) (net.Addr, error) {
	a, err := listenSchemes.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("engine: listen: %w", err)
	}
	l, err := newListener(a.Network(), a.Address(), e.cfg.ReusePort)
	if err != nil {
		return nil, fmt.Errorf("engine: listen %s: %w", addr, err)
	}
	return l.addr, e.add(l)
}

// AddListener serves connections from ln, a TCP or Unix listener created
// elsewhere (for example inherited from a parent process). The engine takes
// ownership: Shutdown and StopAccepting close it.
func (e *Engine) AddListener(ln net.Listener) error {
	l, err := wrapListener(ln)
	if err != nil {
		return err
	}
	return e.add(l)
}

func (e *Engine) add(l *listener) error {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		l.close()
		return ErrEngineClosed
	}
	e.listeners = append(e.listeners, l)
	e.mu.Unlock()
	if err := e.be.addListener(l); err != nil {
		l.close()
		return err
	}
	return nil
}

// Addrs returns the addresses of the engine's listeners.
func (e *Engine) Addrs() []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]net.Addr, 0, len(e.listeners))
	for _, l := range e.listeners {
		out = append(out, l.addr)
	}
	return out
}

// Start runs the engine in the background and returns at once. Called a
// second time it returns ErrStarted; after Shutdown or StopAccepting it
// returns ErrEngineClosed.
func (e *Engine) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return ErrEngineClosed
	}
	if e.started {
		return ErrStarted
	}
	e.started = true
	if b, ok := e.h.(Booter); ok {
		b.OnBoot(e)
	}
	return e.be.start()
}

// Serve starts the engine and blocks until Shutdown has finished, then
// returns ErrEngineClosed. Like Start, it returns ErrStarted at once on an
// engine already started, and ErrEngineClosed after Shutdown.
func (e *Engine) Serve() error {
	if err := e.Start(); err != nil {
		return err
	}
	<-e.done
	return ErrEngineClosed
}

// Done is closed when Shutdown has finished.
func (e *Engine) Done() <-chan struct{} { return e.done }

// StopAccepting closes every listener; open connections stay and are served
// until they close or Shutdown. Used to drain a server before a reload.
func (e *Engine) StopAccepting() {
	e.mu.Lock()
	e.stopping = true
	started := e.started
	ls := e.listeners
	e.listeners = nil
	e.mu.Unlock()
	for _, l := range ls {
		l.close()
	}
	if started {
		e.be.stopAccepting() // waits until no backend goroutine accepts
	}
}

// Shutdown stops accepting, closes every connection after writing its
// outbound backlog (OnClose gets ErrEngineClosed), and waits for the loops to
// exit. When ctx is done first, the remaining connections are closed at once
// and ctx.Err() is returned once the loops have exited. Serve then returns
// ErrEngineClosed. Calling Shutdown again waits for the first call.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.StopAccepting()
	e.mu.Lock()
	first := !e.isDone()
	started := e.started
	e.mu.Unlock()
	if !started {
		e.closeDone()
		return nil
	}
	if !first {
		select {
		case <-e.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	streamsErr := make(chan error, 1)
	go func() { streamsErr <- e.streams.shutdown(ctx) }()
	err := e.be.shutdown(ctx)
	if serr := <-streamsErr; err == nil {
		err = serr
	}
	e.closeDone()
	return err
}

func (e *Engine) isDone() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

func (e *Engine) closeDone() { e.doneOnce.Do(func() { close(e.done) }) }

// DialOptions tune Dial.
type DialOptions struct {
	// LocalAddr binds the source address: "IP" or "IP:port".
	LocalAddr string
	// Timeout bounds the connect; default none beyond ctx.
	Timeout time.Duration
	// Context is set as the Conn's context before OnOpen runs.
	Context any
	// Control, if set, is called on the socket before it connects (as
	// net.Dialer.Control): set socket options there, for example
	// IP_BIND_ADDRESS_NO_PORT so that binding LocalAddr with port 0 does not
	// reserve an ephemeral port per source address.
	Control func(network, address string, c syscall.RawConn) error
}

// Dial connects to address (network "tcp", "tcp4", "tcp6" or "unix") and
// serves the connection with the engine's Handler like an accepted one:
// OnOpen runs on its loop, then OnData as replies arrive. The engine must be
// started. The returned Conn is usable at once (AsyncWrite queues behind the
// registration).
func (e *Engine) Dial(ctx context.Context, network, address string, opts DialOptions) (Conn, error) {
	e.mu.Lock()
	started, stopping := e.started, e.stopping
	e.mu.Unlock()
	if !started {
		return nil, ErrNotStarted
	}
	if stopping {
		return nil, ErrEngineClosed
	}
	if max := e.cfg.MaxConns; max > 0 && e.open.Load() >= int64(max) {
		return nil, ErrTooManyConns // do not even connect
	}
	return e.be.dial(ctx, network, address, opts)
}

// Each runs fn once for every open connection, serialised with that
// connection's callbacks (on its loop for the reactor), so fn may use the
// loop methods of Conn. It returns when fn has run for all of them. fn must
// not block. Use it for broadcasts and shutdown notices: it needs no registry
// of connections beside the engine's own.
func (e *Engine) Each(fn func(c Conn)) {
	e.mu.Lock()
	started := e.started
	e.mu.Unlock()
	if started {
		e.be.each(fn)
		e.streams.each(fn)
	}
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	s := Stats{Kind: e.cfg.Kind, Loops: e.cfg.Loops}
	if e.cfg.Kind == Goroutine {
		s.Loops = 1
	}
	e.be.stats(&s)
	e.streams.stats(&s)
	s.Open = e.open.Load()
	s.PendingWrites = e.pending.Load()
	s.Overloaded = e.overload.Load()
	return s
}

// listener is one listening address: a net.Listener for the goroutine engine
// and the raw descriptors for the reactor.
type listener struct {
	network string
	addr    net.Addr
	ln      net.Listener // the original listener (kept for the goroutine engine and for close)
	extra   []net.Listener
	unlink  string // Unix socket path to remove on close
	once    sync.Once
}

func (l *listener) close() {
	l.once.Do(func() {
		if l.ln != nil {
			l.ln.Close()
		}
		for _, x := range l.extra {
			x.Close()
		}
		if l.unlink != "" {
			os.Remove(l.unlink)
		}
	})
}

func wrapListener(ln net.Listener) (*listener, error) {
	switch x := ln.(type) {
	case *net.TCPListener:
		return &listener{network: "tcp", addr: ln.Addr(), ln: ln}, nil
	case *net.UnixListener:
		x.SetUnlinkOnClose(false)
		return &listener{network: "unix", addr: ln.Addr(), ln: ln}, nil
	}
	return nil, fmt.Errorf("engine: AddListener: unsupported listener type %T (want *net.TCPListener or *net.UnixListener)", ln)
}
