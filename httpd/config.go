package httpd

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"wharf/engine"
)

// Config configures a Server. Zero fields take the defaults in their comments.
type Config struct {
	// Handler serves requests as a standard net/http handler, on a bounded
	// pool of goroutines (Handlers). Any router works unchanged.
	Handler http.Handler
	// Native, when set, serves requests on the event loop itself with the
	// zero-allocation RequestCtx API; it must not block. Native takes
	// precedence over Handler.
	Native NativeHandler

	// ReadHeaderTimeout bounds the time from the first byte of a request (or
	// the connection's start) to the end of its header: a client trickling
	// a header (slowloris) is cut off. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a handler's response once it starts. Default 60s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long between
	// requests. Default 120s.
	IdleTimeout time.Duration
	// MaxRequestLine bounds the request line (414 above). Default 8 KiB.
	MaxRequestLine int
	// MaxHeaderBytes bounds the request head (431 above). Default 64 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body (413 above). Default 1 MiB.
	MaxBodyBytes int64
	// Handlers bounds the goroutines running Handler; they start as
	// requests need them and exit after 30s idle. Long-lived handlers (event
	// streams) each hold one. Default 4096.
	Handlers int
	// QueueSize bounds requests waiting for a handler goroutine; beyond it
	// requests get 503. Default max(Handlers, 1024).
	QueueSize int
	// MaxConns bounds the open connections; beyond it new connections are
	// closed as soon as they are accepted, before a byte is read, and
	// counted (Stats.RefusedConns). It sets Engine.MaxConns when that is
	// zero. Default 0: unlimited.
	MaxConns int
	// MaxConnsPerIP bounds the open connections of one source (an IPv4
	// address, or an IPv6 /64; see package iplimit); beyond it a new
	// connection is answered 503 with Connection: close and closed, and
	// counted (Stats.RefusedPerIP). Unix-socket clients are not limited.
	// Default 0: off.
	MaxConnsPerIP int
	// ServerName is the Server header ("" omits it). Default "wharf".
	ServerName string

	// Clock returns the current time for every timeout httpd measures and
	// for the Date header. Default Engine.Clock, else time.Now; Engine.Clock
	// defaults to it, so the engine, which enforces the deadlines httpd
	// computes, reads the same clock.
	Clock func() time.Time

	// TLS, if set, makes the server HTTPS on every listener (package
	// tlsconn: the handshake off the loop, records on it): certificates,
	// versions, client authentication. NextProtos defaults to
	// ["http/1.1"] (ALPN); handlers see the connection's state in r.TLS.
	// The handshake must finish within ReadHeaderTimeout. A plain HTTP
	// request to it is answered 400, as net/http does. Default nil: HTTP.
	TLS *tls.Config

	// Engine configures the engine (loops, engine kind, socket options).
	Engine engine.Config
	// Logger receives handler panics and errors. Default slog.Default().
	Logger *slog.Logger
}

// responseHighWater is the unsent response backlog at which a handler's
// Write waits for the client to read: a slow client slows its handler down
// instead of growing memory.
const responseHighWater = 256 << 10

func (c Config) withDefaults() (Config, error) {
	if c.Handler == nil && c.Native == nil {
		return c, ErrNoHandler
	}
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ReadHeaderTimeout", &c.ReadHeaderTimeout, 10 * time.Second},
		{"ReadTimeout", &c.ReadTimeout, 60 * time.Second},
		{"WriteTimeout", &c.WriteTimeout, 60 * time.Second},
		{"IdleTimeout", &c.IdleTimeout, 120 * time.Second},
	}
	for _, d := range durs {
		if *d.v < 0 {
			return c, fmt.Errorf("httpd: Config.%s must be >= 0, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxRequestLine", &c.MaxRequestLine, 8 << 10},
		{"MaxHeaderBytes", &c.MaxHeaderBytes, 64 << 10},
		{"Handlers", &c.Handlers, 4096},
		{"MaxConns", &c.MaxConns, 0},
		{"MaxConnsPerIP", &c.MaxConnsPerIP, 0},
	}
	for _, d := range ints {
		if *d.v < 0 {
			return c, fmt.Errorf("httpd: Config.%s must be >= 0, got %d", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.QueueSize < 0 {
		return c, fmt.Errorf("httpd: Config.QueueSize must be >= 0, got %d", c.QueueSize)
	}
	if c.QueueSize == 0 {
		c.QueueSize = max(c.Handlers, 1024)
	}
	if c.MaxBodyBytes < 0 {
		return c, fmt.Errorf("httpd: Config.MaxBodyBytes must be >= 0, got %d", c.MaxBodyBytes)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.ServerName == "" {
		c.ServerName = "wharf"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Clock == nil && c.Engine.Clock != nil:
		c.Clock = c.Engine.Clock
	case c.Clock == nil:
		c.Clock = time.Now
	}
	if c.MaxConns > 0 && c.Engine.MaxConns == 0 {
		c.Engine.MaxConns = c.MaxConns
	}
	if c.Engine.Clock == nil {
		c.Engine.Clock = c.Clock
	}
	if c.Engine.Logger == nil {
		c.Engine.Logger = c.Logger
	}
	// Inbound buffering is bounded by the head and body limits plus one
	// pipelined head; the engine's cap is a backstop above that.
	if c.Engine.MaxInbound == 0 {
		c.Engine.MaxInbound = int(c.MaxBodyBytes) + 2*c.MaxHeaderBytes + 64<<10
	}
	return c, nil
}
