package httpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/httpd/internal/h1"
	"wharf/iplimit"
	"wharf/tlsconn"
)

// Server is an HTTP/1.1 server on wharf's engine. Create it with New, add
// listeners, then Start or Serve; Shutdown stops it gracefully.
type Server struct {
	cfg    Config
	limits h1.Limits
	eng    *engine.Engine
	base   context.Context // parent of every request context; never cancelled, so a request's WithCancel registers nowhere (Shutdown cancels requests one by one)

	pool *pool // the adapter's handler goroutines

	date     atomic.Pointer[[]byte] // the current "Date: ...\r\n" line, refreshed twice a second
	dateStop chan struct{}
	dateDone chan struct{}

	active   atomic.Int64 // requests being served (parsed and not yet answered)
	stopping atomic.Bool  // Shutdown began: answer with Connection: close
	ctr      counters
	perIP    *iplimit.Conns   // open connections per source; nil when MaxConnsPerIP is 0
	tls      *tlsconn.Handler // the engine's Handler when Config.TLS is set, around connHandler

	force     chan struct{} // closed by Close: a graceful Shutdown under way stops waiting
	forceOnce sync.Once

	mu      sync.Mutex // guards started and closed
	started bool
	closed  bool
	done    chan struct{}
}

// New validates cfg and returns a server; nothing listens before Listen.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		limits: h1.Limits{MaxRequestLine: cfg.MaxRequestLine, MaxHeaderBytes: cfg.MaxHeaderBytes},
		force:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.base = context.Background()
	s.pool = newPool(cfg.Handlers, cfg.QueueSize, s.now)
	if cfg.MaxConnsPerIP > 0 {
		if s.perIP, err = iplimit.NewConns(cfg.MaxConnsPerIP); err != nil {
			return nil, fmt.Errorf("httpd: Config.MaxConnsPerIP: %w", err)
		}
	}
	s.refreshDate(s.now())
	var h engine.Handler = &connHandler{s: s}
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		if len(tc.NextProtos) == 0 {
			tc.NextProtos = []string{"http/1.1"}
		}
		s.tls, err = tlsconn.NewHandler(tlsconn.Config{
			TLS:              tc,
			HandshakeTimeout: cfg.ReadHeaderTimeout,
			PlaintextReply:   []byte("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"),
			Logger:           cfg.Logger,
		}, h)
		if err != nil {
			return nil, fmt.Errorf("httpd: Config.TLS: %w", err)
		}
		h = s.tls
	}
	s.eng, err = engine.New(cfg.Engine, h)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// TLSStats returns the handshake counters of an HTTPS server; ok is false
// for plain HTTP.
func (s *Server) TLSStats() (st tlsconn.Stats, ok bool) {
	if s.tls == nil {
		return st, false
	}
	return s.tls.Stats(), true
}

// now is the server's clock (Config.Clock).
func (s *Server) now() time.Time { return s.cfg.Clock() }

// Engine returns the server's engine.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Listen adds a listener ("tcp://host:port", "unix:///path", "host:port")
// and returns its address.
func (s *Server) Listen(addr string) (net.Addr, error) { return s.eng.Listen(addr) }

// AddListener serves an existing listener.
func (s *Server) AddListener(ln net.Listener) error { return s.eng.AddListener(ln) }

// Start starts serving in the background. Called a second time it returns
// ErrStarted; after Shutdown or Close it returns ErrServerClosed.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.started {
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.mu.Unlock()
	s.dateStop, s.dateDone = make(chan struct{}), make(chan struct{})
	go s.dateLoop()
	return s.eng.Start()
}

// Serve starts the server and blocks until it has stopped; it returns
// ErrServerClosed. Like Start, it returns ErrStarted at once on a server
// already started, and ErrServerClosed after Shutdown or Close.
func (s *Server) Serve() error {
	if err := s.Start(); err != nil {
		return err
	}
	<-s.done
	return ErrServerClosed
}

// Shutdown stops gracefully: it stops accepting, closes idle connections,
// lets requests in progress finish and answer (with Connection: close), then
// closes everything. When ctx ends first, the rest is closed at once and
// ctx.Err() returned; when Close is called meanwhile, likewise, and
// ErrServerClosed returned. A second call waits for the first to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	// Close cuts a graceful wait short: it cancels this context.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.force:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.shutdown(ctx)
	select {
	case <-s.force:
		if err != nil && ctx.Err() != nil {
			err = ErrServerClosed
		}
	default:
	}
	return err
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		select {
		case <-s.done: // already stopped: nothing to report, whatever ctx says
			return nil
		default:
		}
		select {
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	defer close(s.done)
	s.stopping.Store(true)
	s.eng.StopAccepting()
	var err error
	if started {
		// Idle keep-alive connections close now; busy ones after their
		// response (stopping makes it carry Connection: close).
		s.eng.Each(func(ec engine.Conn) {
			if c, ok := ec.Context().(*hconn); ok && c.idle() {
				ec.Close()
			} else if !ok {
				upgradedShutdown(ec)
			}
		})
		for s.active.Load() > 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if started {
		// Cancel the request contexts of anything still running.
		s.eng.Each(func(ec engine.Conn) {
			if c, ok := ec.Context().(*hconn); ok {
				for _, j := range c.jobs {
					j.gone()
				}
			}
		})
	}
	if e := s.eng.Shutdown(ctx); e != nil {
		err = e
	}
	if started {
		s.pool.close()
		close(s.dateStop)
		<-s.dateDone
	}
	return err
}

// Close stops at once: connections are closed and request contexts
// cancelled; a graceful Shutdown under way stops waiting. It returns when
// the server has stopped, with the error of stopping it, if any: cutting
// connections is what Close is for, not an error.
func (s *Server) Close() error {
	s.forceOnce.Do(func() { close(s.force) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.shutdown(ctx)
	<-s.done // when another Shutdown was under way, it finishes now
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) dateLoop() {
	defer close(s.dateDone)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.dateStop:
			return
		case <-t.C:
			now := s.now()
			s.refreshDate(now)
			s.pool.reap(now)
		}
	}
}

func (s *Server) refreshDate(now time.Time) {
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	s.date.Store(&b)
}

// workerIdle is how long a handler goroutine waits for work before it
// exits: the pool grows with load up to Config.Handlers and shrinks back.
const workerIdle = 30 * time.Second

// submit queues j for a handler goroutine. It reports false when the queue
// is full.
func (s *Server) submit(j *job) bool { return s.pool.submit(j) }
