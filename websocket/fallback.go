package websocket

import (
	"fmt"
	"net"
	"net/http"

	"wharf/engine"
	"wharf/httpd"
)

// On a server other than httpd (the standard library's), Upgrade hijacks
// the connection and serves it with Engine.ServeConn on an engine of the
// Server's (Config.FallbackEngine): the connection then has a goroutine
// reading it (the net.Conn model), but the same Conn, Handler callbacks,
// limits and close handshake as on httpd's loops.

// fallback returns the Server's engine for hijacked connections, started on
// first use. It holds no goroutine while no connection is open, so it is
// never shut down.
func (s *Server) fallback() (*engine.Engine, error) {
	s.fbOnce.Do(func() {
		cfg := s.cfg.FallbackEngine
		cfg.Kind = engine.Goroutine // ServeConn runs on goroutines anyway: no loops to start
		s.fbEngine, s.fbErr = engine.New(cfg, protocolHandler{})
		if s.fbErr == nil {
			s.fbErr = s.fbEngine.Start()
		}
	})
	return s.fbEngine, s.fbErr
}

// protocolHandler runs an httpd.Protocol (the connection's context) as an
// engine.Handler.
type protocolHandler struct{}

func (protocolHandler) OnOpen(ec engine.Conn) { ec.Context().(httpd.Protocol).OnUpgrade(ec) }
func (protocolHandler) OnData(ec engine.Conn) error {
	return ec.Context().(httpd.Protocol).OnData(ec)
}
func (protocolHandler) OnClose(ec engine.Conn, err error) {
	ec.Context().(httpd.Protocol).OnClose(ec, err)
}

// upgradeHijacked answers the handshake on a hijacked connection and
// serves it on the fallback engine.
func (s *Server) upgradeHijacked(w http.ResponseWriter, resp []byte, p httpd.Protocol) error {
	e, err := s.fallback()
	if err != nil {
		return fmt.Errorf("websocket: start the engine for hijacked connections: %w", err)
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotEngine, err)
	}
	if _, err := nc.Write(resp); err != nil {
		nc.Close()
		return fmt.Errorf("websocket: write the handshake response: %w", err)
	}
	if n := brw.Reader.Buffered(); n > 0 {
		// Frames the client sent right behind its request.
		early, _ := brw.Reader.Peek(n)
		nc = &prefixConn{Conn: nc, prefix: append([]byte(nil), early...)}
	}
	if _, err := e.ServeConn(nc, engine.ConnOptions{Context: p}); err != nil {
		return fmt.Errorf("websocket: serve the hijacked connection: %w", err)
	}
	return nil
}

// prefixConn reads prefix before the connection's own bytes.
type prefixConn struct {
	net.Conn
	prefix []byte // owned by the reading goroutine
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		if len(c.prefix) == 0 {
			c.prefix = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}
