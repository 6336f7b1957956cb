package websocket

import (
	"compress/flate"
	"fmt"
	"strings"
	"time"

	"wharf/engine"
)

// Config configures a Server. Zero fields take the defaults in their
// comments.
type Config struct {
	// Subprotocols are the subprotocols the server speaks, most preferred
	// first. The server picks the first of them the client offers
	// (Sec-WebSocket-Protocol); Conn.Subprotocol reports it. Default none.
	Subprotocols []string
	// RequireSubprotocol refuses (400) a client that offers none of
	// Subprotocols, instead of accepting it without a subprotocol.
	RequireSubprotocol bool

	// CheckOrigin decides whether a browser page from origin (the Origin
	// header, "" if the client sent none) may connect to host (the Host
	// header). When set, it replaces AllowedOrigins and the same-origin
	// default.
	CheckOrigin func(origin, host string) bool
	// AllowedOrigins lists the origins allowed to connect, as
	// "scheme://host[:port]" or a bare "host[:port]" (compared without
	// regard to case); "*" allows every origin. When set, it replaces the
	// same-origin default. Requests without an Origin header (non-browser
	// clients) are always allowed, with either policy.
	//
	// The default policy is same-origin: the Origin's host[:port] must
	// equal the Host header, which stops other sites' pages from opening
	// WebSockets to this server with the user's cookies (cross-site
	// WebSocket hijacking).
	AllowedOrigins []string

	// MaxMessageSize bounds a message, after decompression; a larger one
	// fails the connection with 1009 (message too big). Default 1 MiB.
	MaxMessageSize int64
	// MaxFrameSize bounds one frame's payload (1009 above it). Default
	// MaxMessageSize.
	MaxFrameSize int64

	// IdleTimeout closes a connection that receives nothing (no message,
	// no ping, no pong) for this long; 0 leaves the engine's IdleTimeout.
	// The close is abnormal (1006, CloseError.Err is
	// engine.ErrIdleTimeout): send pings or have the client do so to keep
	// a quiet connection open.
	IdleTimeout time.Duration
	// CloseTimeout bounds the close handshake: after sending a close frame
	// the server waits this long for the peer's, then closes the TCP
	// connection. Default 5s.
	CloseTimeout time.Duration

	// Compression negotiates permessage-deflate (RFC 7692) with clients
	// that offer it. Default off.
	Compression bool
	// CompressionLevel is the flate level of outgoing messages, from
	// flate.HuffmanOnly (-2) to flate.BestCompression (9). Default
	// flate.BestSpeed (1); 0 means the default, not flate.NoCompression.
	CompressionLevel int
	// CompressionThreshold is the smallest message the server compresses;
	// smaller ones go out uncompressed (deflate makes them larger). Default
	// 128 bytes.
	CompressionThreshold int
	// ContextTakeover lets both sides keep their compression context from
	// one message to the next, which compresses streams of similar
	// messages better at a price in memory: about 1 MiB per connection for
	// the server's own flate.Writer, plus 32 KiB for the client's window
	// (see the package documentation). Default off: the server asks for
	// server_no_context_takeover and client_no_context_takeover, and an
	// idle connection holds no deflate state.
	ContextTakeover bool

	// FallbackEngine configures the engine that serves the connections
	// Upgrade hijacks from servers other than httpd (the standard
	// library's), through engine.Engine.ServeConn: its limits
	// (MaxOutbound, MaxPendingPerConn, ...) apply to them. Kind is
	// ignored. Default: the engine's defaults.
	FallbackEngine engine.Config
}

// Defaults of Config fields.
const (
	DefaultMaxMessageSize       = 1 << 20
	DefaultCloseTimeout         = 5 * time.Second
	DefaultCompressionThreshold = 128
)

// withDefaults returns a copy with zero fields replaced by defaults, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.MaxMessageSize < 0 {
		return c, fmt.Errorf("websocket: Config.MaxMessageSize must be >= 0, got %d", c.MaxMessageSize)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxFrameSize < 0 {
		return c, fmt.Errorf("websocket: Config.MaxFrameSize must be >= 0, got %d", c.MaxFrameSize)
	}
	if c.MaxFrameSize == 0 || c.MaxFrameSize > c.MaxMessageSize {
		c.MaxFrameSize = c.MaxMessageSize
	}
	if c.IdleTimeout < 0 {
		return c, fmt.Errorf("websocket: Config.IdleTimeout must be >= 0, got %v", c.IdleTimeout)
	}
	if c.CloseTimeout < 0 {
		return c, fmt.Errorf("websocket: Config.CloseTimeout must be >= 0, got %v", c.CloseTimeout)
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.CompressionLevel < flate.HuffmanOnly || c.CompressionLevel > flate.BestCompression {
		return c, fmt.Errorf("websocket: Config.CompressionLevel must be in [%d, %d], got %d", flate.HuffmanOnly, flate.BestCompression, c.CompressionLevel)
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = flate.BestSpeed
	}
	if c.CompressionThreshold < 0 {
		return c, fmt.Errorf("websocket: Config.CompressionThreshold must be >= 0, got %d", c.CompressionThreshold)
	}
	if c.CompressionThreshold == 0 {
		c.CompressionThreshold = DefaultCompressionThreshold
	}
	if len(c.Subprotocols) > 254 {
		return c, fmt.Errorf("websocket: Config.Subprotocols has %d entries, at most 254", len(c.Subprotocols))
	}
	for i, p := range c.Subprotocols {
		if p == "" || !isToken(p) {
			return c, fmt.Errorf("websocket: Config.Subprotocols[%d] %q is not an HTTP token", i, p)
		}
	}
	if c.RequireSubprotocol && len(c.Subprotocols) == 0 {
		return c, fmt.Errorf("websocket: Config.RequireSubprotocol needs Config.Subprotocols")
	}
	for i, o := range c.AllowedOrigins {
		if o == "" || strings.ContainsAny(o, " ,\r\n") {
			return c, fmt.Errorf("websocket: Config.AllowedOrigins[%d] %q is not an origin", i, o)
		}
	}
	return c, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return s != ""
}
