package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"wharf/endpoint"
	"wharf/packet"
)

// Config configures a Client. Zero fields take the defaults in their
// comments. A Config is copied by Dial; changing it afterwards has no effect.
type Config struct {
	// DialTimeout bounds each connection attempt (the first one is also
	// bounded by Dial's context). Default 5s; negative: no bound but the
	// context's.
	DialTimeout time.Duration

	// RequestTimeout bounds a request whose context has no deadline, from
	// the call until the reply, waiting for a connection included.
	// Default 10s; negative: no bound (a reply the server never sends then
	// blocks the caller until its context ends).
	RequestTimeout time.Duration

	// WriteTimeout bounds one write to the socket. A write that blocks this
	// long means the server stopped reading; the connection is failed.
	// Default 10s; negative: no bound.
	WriteTimeout time.Duration

	// KeepAlive sends a ping (code 0) after this long without sending
	// anything, so the server's idle timeout (60s by default) never fires
	// on a quiet client. Pings are only sent when idle: a busy client sends
	// none. If nothing at all arrives for a whole KeepAlive after such a
	// ping, the connection is considered dead and failed with ErrKeepAlive.
	// Default 20s; negative disables both.
	KeepAlive time.Duration

	// Reconnect redials, with jittered exponential backoff between
	// MinBackoff and MaxBackoff, when the connection drops. Requests
	// outstanding at the drop fail with ErrConnLost (they are never resent);
	// new requests wait for the next connection within their context.
	// Default false: the client ends (Done) when its connection drops.
	Reconnect bool

	// MinBackoff and MaxBackoff bound the wait before a redial. The n-th
	// attempt after a drop waits a random time in [d/2, d] with
	// d = min(MaxBackoff, MinBackoff * 2^n). Defaults 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration

	// MaxPacket is the largest packet, header included, the client sends or
	// accepts; it must not exceed the server's max_packet. Default
	// packet.DefaultMaxPacket (16384); at most packet.MaxPacketLimit.
	MaxPacket int

	// PushCodes are codes only the server sends: packets with them always go
	// to OnPush, even while a request of that code is outstanding, and
	// Request refuses them. nil means {CodeMessage} (8, the demo
	// application's chat message); an empty non-nil slice means none.
	PushCodes []uint16

	// Dialer opens connections. Default: a net.Dialer. It receives the
	// scheme of Dial's addr as the network ("tcp", "tcp4", "tcp6", "unix",
	// "kcp", "ws" or "wss"; "tcp" for tls://) and the address as net.Dial
	// takes it ("host:port", or the socket path; the whole URL for ws and
	// wss). Use it to bind a source address, or to plug in another
	// transport: kcp:// needs one (kcp.Dial), ws:// and wss:// too
	// (websocket.StreamDialer with the subprotocol
	// packet.WebSocketSubprotocol).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	// TLS configures tls:// addresses: the client runs a TLS handshake
	// over each connection the Dialer opens, and verifies the server's
	// certificate: against the system's roots unless RootCAs is set, for
	// the address's host unless ServerName is set. Default nil: that
	// verification, TLS 1.2 at least. Set InsecureSkipVerify only in tests.
	TLS *tls.Config

	// OnPush receives unsolicited packets: packets of a PushCodes code,
	// packets of a code no request is waiting for, and code 1 packets that
	// answer no outstanding request (such as the server's shutdown notice
	// {"code":0,"error":"server shutting down"}). It runs on the
	// connection's reader goroutine, one packet at a time, in arrival order;
	// body is valid only during the call. While it runs no reply is read, so
	// it must be quick and must not wait for a Request on the same client
	// (start a goroutine for that). Default nil: pushes are dropped and
	// counted (Stats.PushesDropped).
	OnPush func(code uint16, body []byte)

	// OnState is told about connection changes (see State). Calls are
	// serialised, from the client's background goroutine (the first
	// StateConnected from Dial's). Optional.
	OnState func(State, error)

	// Logger receives connection events (connected, lost, redial failures).
	// Default: discard.
	Logger *slog.Logger
}

// withDefaults fills in the defaults and validates, naming the bad field.
func (c Config) withDefaults() (Config, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.DialTimeout, 5*time.Second)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.KeepAlive, 20*time.Second)
	def(&c.MinBackoff, 100*time.Millisecond)
	def(&c.MaxBackoff, 10*time.Second)
	if c.MinBackoff < 0 {
		return c, fmt.Errorf("client: Config.MinBackoff must be > 0, got %v", c.MinBackoff)
	}
	if c.MaxBackoff < c.MinBackoff {
		return c, fmt.Errorf("client: Config.MaxBackoff (%v) must be >= MinBackoff (%v)", c.MaxBackoff, c.MinBackoff)
	}
	if c.MaxPacket == 0 {
		c.MaxPacket = packet.DefaultMaxPacket
	}
	if c.MaxPacket <= packet.HeaderSize || c.MaxPacket > packet.MaxPacketLimit {
		return c, fmt.Errorf("client: Config.MaxPacket must be in %d..%d, got %d", packet.HeaderSize+1, packet.MaxPacketLimit, c.MaxPacket)
	}
	if c.PushCodes == nil {
		c.PushCodes = []uint16{CodeMessage}
	} else {
		c.PushCodes = slices.Clone(c.PushCodes)
	}
	for _, code := range c.PushCodes {
		if code == packet.CodePing || code == packet.CodeError {
			return c, fmt.Errorf("client: Config.PushCodes must not hold the reserved code %d", code)
		}
	}
	if c.Dialer == nil {
		var d net.Dialer
		c.Dialer = d.DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// isPush reports whether code is one of PushCodes. The list is short (one
// code by default), so a scan beats a map and costs no memory per client.
func (c *Config) isPush(code uint16) bool {
	for _, p := range c.PushCodes {
		if p == code {
			return true
		}
	}
	return false
}

// dialSchemes are the schemes Dial takes, tcp implied. kcp needs a Dialer
// that speaks it (kcp.Dial), ws and wss one that speaks WebSocket
// (websocket.StreamDialer), which gets the whole URL as its address.
var dialSchemes = endpoint.Schemes{"tcp", "tcp4", "tcp6", "unix", "kcp", "tls", "ws", "wss"}

// splitAddr turns Dial's addr (package endpoint's syntax) into the
// Dialer's network, the scheme, and address: "host:port" -> ("tcp",
// "host:port"), "unix:///run/w.sock" -> ("unix", "/run/w.sock"),
// "kcp://host:port" -> ("kcp", "host:port"), "ws://host:port/ws" -> ("ws",
// "ws://host:port/ws"). For tls:// it returns the network of the
// transport, "tcp", and the TLS configuration to run over it: cfg (cloned)
// with ServerName the address's host when unset.
func splitAddr(addr string, cfg *tls.Config) (network, address string, tc *tls.Config, err error) {
	a, err := dialSchemes.Parse(addr)
	if err != nil {
		return "", "", nil, fmt.Errorf("client: bad address: %w", err)
	}
	switch a.Scheme {
	case "ws", "wss":
		return a.Scheme, a.String(), nil, nil
	case "tls":
	default:
		return a.Scheme, a.Address(), nil, nil
	}
	if cfg == nil {
		tc = &tls.Config{}
	} else {
		tc = cfg.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = a.Host
		if tc.ServerName == "" {
			tc.ServerName = "localhost" // "tls://:7443" dials the local host
		}
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	return a.Network(), a.Address(), tc, nil
}

// State is a connection state reported to Config.OnState.
type State uint8

// States, in the order a client goes through them.
const (
	// StateConnected: a connection is up (after Dial, and after each
	// successful redial). The error is nil.
	StateConnected State = iota + 1
	// StateDisconnected: the connection dropped; the error says why (a
	// *ConnError). With Reconnect, StateReconnecting follows, otherwise
	// StateClosed.
	StateDisconnected
	// StateReconnecting: a redial is about to wait its backoff and try. The
	// error is the previous attempt's (a *DialError), nil for the first
	// attempt after a drop.
	StateReconnecting
	// StateClosed: the client has ended for good: Close was called, or the
	// connection dropped without Reconnect. The error is Client.Err. Done
	// is closed right after.
	StateClosed
)

var stateNames = [...]string{"invalid", "connected", "disconnected", "reconnecting", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
