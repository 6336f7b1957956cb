package tlsconn

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"wharf/engine"
)

// Handler makes a raw engine a TLS listener: it is the engine's Handler,
// runs the handshake of every connection, and serves the inner Handler
// with the decrypted connections (engine.Layered). The inner Handler runs
// unchanged: the message server, httpd, the web app.
//
// A Handler implements engine.Booter, engine.Ticker and
// engine.WatermarkHandler and forwards them to the inner Handler when it
// implements them. Use one Handler per engine: OnBoot takes the engine's
// clock and MaxInbound.
type Handler struct {
	cfg   Config
	tls   *tls.Config // cfg.TLS
	inner engine.Handler
	ctr   counters
	log   *slog.Logger
	limit logLimit

	// Set by OnBoot, before any connection.
	clock      func() time.Time
	maxInbound int
}

var (
	_ engine.Handler          = (*Handler)(nil)
	_ engine.Booter           = (*Handler)(nil)
	_ engine.Ticker           = (*Handler)(nil)
	_ engine.WatermarkHandler = (*Handler)(nil)
)

// defaultMaxInbound is the engine's default MaxInbound, for a Handler whose
// engine never called OnBoot.
const defaultMaxInbound = 4 << 20

// NewHandler returns a Handler serving inner over TLS with cfg. Errors
// name the invalid field.
func NewHandler(cfg Config, inner engine.Handler) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Handler{
		cfg:        cfg,
		tls:        cfg.TLS,
		inner:      inner,
		log:        cfg.Logger,
		clock:      time.Now,
		maxInbound: defaultMaxInbound,
	}, nil
}

// Stats returns the handshake counters. Any goroutine.
func (h *Handler) Stats() Stats { return h.ctr.stats() }

// OnBoot takes the engine's clock and inbound limit and forwards to the
// inner Handler.
func (h *Handler) OnBoot(e *engine.Engine) {
	ec := e.Config()
	if ec.Clock != nil {
		h.clock = ec.Clock
	}
	if ec.MaxInbound > 0 {
		h.maxInbound = ec.MaxInbound
	}
	if b, ok := h.inner.(engine.Booter); ok {
		b.OnBoot(e)
	}
}

// OnTick forwards to the inner Handler.
func (h *Handler) OnTick(loop int, now time.Time) {
	if t, ok := h.inner.(engine.Ticker); ok {
		t.OnTick(loop, now)
	}
}

// OnOpen starts the handshake clock. On the accepting side nothing else is
// spent on a connection until its first bytes arrive; a client starts its
// handshake. A context the raw connection already has (set by
// engine.DialOptions.Context or ConnOptions.Context) becomes the Layered
// connection's, for the inner Handler's OnOpen.
func (h *Handler) OnOpen(raw engine.Conn) {
	c := &conn{h: h, raw: raw, ctx0: raw.Context()}
	raw.SetContext(c)
	raw.SetDeadline(h.clock().Add(h.cfg.HandshakeTimeout))
	if h.cfg.Client {
		c.startHandshake() // the client speaks first
	}
}

// OnData classifies the first bytes, feeds the handshake, and after it
// decrypts records for the inner Handler.
func (h *Handler) OnData(raw engine.Conn) error {
	switch c := raw.Context().(type) {
	case *engine.Layered:
		err := c.Input()
		if err == io.EOF { // the peer's close_notify
			c.Codec().(*conn).closeNotify()
		}
		return err
	case *conn:
		if c.hs != nil {
			c.hs.push(raw)
			return nil
		}
		b, _ := raw.Peek(-1)
		switch classifyOpening(b) {
		case openingPartial:
			return nil
		case openingNotTLS:
			h.failed(raw, FailNotTLS, ErrNotTLS)
			if len(h.cfg.PlaintextReply) > 0 {
				raw.Write(h.cfg.PlaintextReply)
			}
			return ErrNotTLS
		case openingSSLv2:
			h.failed(raw, FailProtocolVersion, ErrSSLv2)
			return ErrSSLv2
		}
		c.startHandshake()
		c.hs.push(raw)
	}
	return nil
}

// OnClose ends a handshake in progress, or tells the inner Handler.
func (h *Handler) OnClose(raw engine.Conn, err error) {
	switch c := raw.Context().(type) {
	case *engine.Layered:
		c.Closed(err)
	case *conn:
		if c.hs == nil && errors.Is(err, engine.ErrDeadlineExceeded) {
			// Connected and never sent a record: a slowloris too.
			h.failed(raw, FailTimeout, err)
		}
		c.closed(err)
	}
}

// OnWatermark forwards the raw connection's backpressure to the inner
// Handler.
func (h *Handler) OnWatermark(raw engine.Conn, high bool) {
	if l, ok := raw.Context().(*engine.Layered); ok {
		l.Watermark(high)
	}
}

// failed counts a failed handshake and logs it, rate-limited.
func (h *Handler) failed(raw engine.Conn, r Failure, err error) {
	h.ctr.failed[r].Add(1)
	if ok, suppressed := h.limit.allow(h.clock()); ok {
		args := []any{"remote", raw.RemoteAddr().String(), "reason", r.String(), "err", err}
		if suppressed > 0 {
			args = append(args, "suppressed", suppressed)
		}
		h.log.Info("tlsconn: handshake failed", args...)
	}
}

// ConnectionState returns the negotiated TLS parameters of c: the Conn an
// inner Handler was given (or the raw connection under it). ok is false
// for a connection that is not TLS, or before its handshake completed.
// Any goroutine.
func ConnectionState(c engine.Conn) (st tls.ConnectionState, ok bool) {
	if c == nil {
		return st, false
	}
	l, isLayered := c.(*engine.Layered)
	if !isLayered {
		if l, isLayered = engine.LayeredOf(c); !isLayered {
			return st, false
		}
	}
	tc, isTLS := l.Codec().(*conn)
	if !isTLS {
		return st, false
	}
	return tc.tc.ConnectionState(), true
}

// logLimit lets logBurst lines through per second and counts the rest.
type logLimit struct {
	mu         sync.Mutex // guards the fields below
	second     int64      // the Unix second being counted
	n          int        // lines let through in it
	suppressed int        // lines held back since the last one let through
}

const logBurst = 10

func (l *logLimit) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second {
		l.second, l.n = s, 0
	}
	if l.n >= logBurst {
		l.suppressed++
		return false, 0
	}
	l.n++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
