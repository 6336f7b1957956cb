package websocket

import (
	"net/http"
	"sync"
	"sync/atomic"
	"unsafe"

	"wharf/engine"
	"wharf/httpd"
)

// Handler receives a server connection's events, on the connection's event
// loop: callbacks of one connection never run concurrently, and none may
// block (every connection of the loop waits meanwhile). Hand slow work to
// other goroutines and answer with Conn.WriteMessage.
type Handler interface {
	// OnOpen runs once, after the handshake, before any OnMessage.
	OnOpen(c *Conn)
	// OnMessage runs for every complete text or binary message (text is
	// valid UTF-8). data is valid until OnMessage returns; copy what must
	// outlive it.
	OnMessage(c *Conn, typ MessageType, data []byte)
	// OnClose runs once when the connection has closed; err is a
	// *CloseError saying who closed it and why.
	OnClose(c *Conn, err error)
}

// PingHandler is implemented by Handlers that want to see pings. The pong
// is sent automatically before OnPing runs.
type PingHandler interface {
	OnPing(c *Conn, data []byte)
}

// PongHandler is implemented by Handlers that want to see pongs (the
// answers to Conn.Ping, or unsolicited heartbeats).
type PongHandler interface {
	OnPong(c *Conn, data []byte)
}

// HandlerFuncs adapts functions to Handler; nil fields do nothing.
type HandlerFuncs struct {
	Open    func(c *Conn)
	Message func(c *Conn, typ MessageType, data []byte)
	Close   func(c *Conn, err error)
}

// OnOpen calls f.Open.
func (f HandlerFuncs) OnOpen(c *Conn) {
	if f.Open != nil {
		f.Open(c)
	}
}

// OnMessage calls f.Message.
func (f HandlerFuncs) OnMessage(c *Conn, typ MessageType, data []byte) {
	if f.Message != nil {
		f.Message(c, typ, data)
	}
}

// OnClose calls f.Close.
func (f HandlerFuncs) OnClose(c *Conn, err error) {
	if f.Close != nil {
		f.Close(c, err)
	}
}

// Server accepts WebSocket connections for one Handler. It is an
// httpd.NativeHandler (ServeNative: the handshake is answered on the
// loop) and an http.Handler (ServeHTTP: a net/http handler on httpd's
// adapter hands the connection back to the loop); either way the
// connection then runs on the engine with no goroutine of its own. A
// Server is safe for concurrent use and may serve several endpoints.
type Server struct {
	cfg  Config
	h    Handler
	ping PingHandler // h, if it implements it
	pong PongHandler
	// stream, set by NewStreamServer, serves connections as byte streams
	// (engine.Layered) instead of h.
	stream engine.Handler
	lim    limits // from cfg, shared by every Conn's reader
	ctr    counters

	fbOnce   sync.Once // guards the fields below: the engine for hijacked connections (fallback.go)
	fbEngine *engine.Engine
	fbErr    error
}

var (
	_ httpd.NativeHandler = (*Server)(nil)
	_ http.Handler        = (*Server)(nil)
)

// NewServer validates cfg and returns a server for h.
func NewServer(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errNilHandler
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, h: h, lim: limits{maxFrame: cfg.MaxFrameSize, maxMsg: cfg.MaxMessageSize}}
	s.ping, _ = h.(PingHandler)
	s.pong, _ = h.(PongHandler)
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Server) Config() Config { return s.cfg }

// ServeNative answers a WebSocket handshake served by httpd's native API
// and, if it is acceptable, upgrades the connection once the handler
// returns; otherwise it answers with an HTTP error (400, 403, 405 or 426)
// saying why. Call it from a NativeHandler for the endpoint's path.
func (s *Server) ServeNative(rc *httpd.RequestCtx) {
	var hello clientHello
	hello.readNative(rc)
	n, ref := s.negotiate(&hello)
	if ref != nil {
		s.ctr.refused.Add(1)
		rc.SetStatusCode(ref.status)
		if ref.status == http.StatusUpgradeRequired {
			rc.SetHeader("Sec-WebSocket-Version", "13")
		}
		rc.WriteString(ref.reason + "\n")
		return
	}
	var buf [256]byte // Upgrade copies it
	rc.Upgrade(n.appendAccept(buf[:0], s), (*connProto)(s.newConn(&n)))
}

// ServeHTTP upgrades a net/http request; see Upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Upgrade(w, r) }

// Upgrade answers a WebSocket handshake from a net/http handler. A
// handshake it refuses is answered with an HTTP error (400, 403, 405 or
// 426) and reported as a *HandshakeError. Otherwise the connection leaves
// the handler, which should return at once and not use w again:
//
//   - on a ResponseWriter of an httpd server, httpd.Upgrade queues the 101
//     response and hands the connection back to its event loop, where the
//     Handler's callbacks run as for ServeNative;
//   - on any other server (the standard library's) the connection is
//     hijacked and served by engine.Engine.ServeConn on a process-wide
//     engine: one goroutine reads it, and the Handler, Conn and limits are
//     the same. ErrNotEngine is returned if it cannot be hijacked.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request) error {
	var hello clientHello
	hello.readHTTP(r)
	n, ref := s.negotiate(&hello)
	if ref != nil {
		s.ctr.refused.Add(1)
		if ref.status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, ref.reason, ref.status)
		return &HandshakeError{Status: ref.status, Reason: ref.reason}
	}
	resp := n.appendAccept(make([]byte, 0, 256), s)
	p := (*connProto)(s.newConn(&n))
	err := httpd.Upgrade(w, resp, p)
	if err == httpd.ErrNotUpgradable {
		err = s.upgradeHijacked(w, resp, p)
	}
	if err != nil {
		s.ctr.refused.Add(1)
	}
	return err
}

// Upgrade answers a handshake with a Server of the default Config for h;
// see Server.Upgrade.
func Upgrade(w http.ResponseWriter, r *http.Request, h Handler) error {
	s, err := NewServer(Config{}, h)
	if err != nil {
		return err
	}
	return s.Upgrade(w, r)
}

// newConn makes the Conn for an accepted handshake; OnUpgrade starts it
// on the loop.
func (s *Server) newConn(n *negotiation) *Conn {
	c := &Conn{srv: s, proto: n.proto}
	c.r = msgReader{server: true, deflate: n.deflate, lim: &s.lim}
	if n.deflate {
		c.compress = n.params.compressesOut(true)
		c.resetOut = n.params.serverNoCtx
		if c.compress && !c.resetOut {
			c.cw = newDeflater(s.cfg.CompressionLevel)
		}
		if !n.params.clientNoCtx {
			w := make([]byte, 0, windowSize)
			c.r.window = &w
		}
	}
	return c
}

// HandshakeError is returned by Upgrade for a handshake it refused; the
// client got Status with Reason.
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string { return e.Reason }

// Stats are a Server's counters.
type Stats struct {
	Upgrades       uint64 // handshakes accepted
	Refused        uint64 // handshakes refused
	Open           int64  // connections open now
	Closed         uint64 // connections closed
	MessagesIn     uint64 // messages received
	MessagesOut    uint64 // messages queued for sending
	BytesIn        uint64 // payload bytes received (decompressed)
	BytesOut       uint64 // payload bytes queued (before compression)
	ProtocolErrors uint64 // connections this side failed (1002, 1007, 1009, ...)
	Abnormal       uint64 // connections closed without a close frame (1006)
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	c := &s.ctr
	return Stats{
		Upgrades: c.upgrades.Load(), Refused: c.refused.Load(), Open: c.open.Load(), Closed: c.closed.Load(),
		MessagesIn: c.msgsIn.Load(), MessagesOut: c.msgsOut.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		ProtocolErrors: c.protocolErrors.Load(), Abnormal: c.abnormal.Load(),
	}
}

type counters struct {
	upgrades, refused, closed atomic.Uint64
	open                      atomic.Int64
	msgsIn, msgsOut           atomic.Uint64
	bytesIn, bytesOut         atomic.Uint64
	protocolErrors, abnormal  atomic.Uint64
}

func (c *counters) countIn(n int) {
	c.msgsIn.Add(1)
	c.bytesIn.Add(uint64(n))
}

func (c *counters) countOut(n int) {
	c.msgsOut.Add(1)
	c.bytesOut.Add(uint64(n))
}

// stringBytes views s as bytes without copying, for writes that only read
// them.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
