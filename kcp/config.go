package kcp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"

	"wharf/engine"
)

// Mode is a KCP tuning preset: the arguments of ikcp_nodelay(nodelay,
// interval, resend, nc) from SPEC §6 and seed 004.
type Mode string

// The modes. Fast is the default.
const (
	// ModeDefault is ikcp's own default, (0, 10, 0, 0): a 100 ms minimum
	// RTO, each timeout adds a whole RTO to the segment's timer (ikcp
	// doubles it; kcp-go adds rx_rto), no fast retransmit, congestion
	// control on.
	ModeDefault Mode = "default"
	// ModeNormal is (0, 10, 0, 1): as default, but without congestion
	// control (the send rate is bounded only by the windows).
	ModeNormal Mode = "normal"
	// ModeFast is (2, 10, 2, 1): each timeout adds half an RTO instead of
	// a whole one, a segment is resent as soon as two later segments are
	// acknowledged, no congestion control, and ACKs go out at once. Seed 004
	// adds rx_minrto = 10 ms; kcp-go does not expose rx_minrto and pins it to
	// 30 ms for any nodelay mode (see the package documentation).
	ModeFast Mode = "fast"
)

// ParseCookieMode parses "under_load" (or ""), "always" or "off".
func ParseCookieMode(s string) (CookieMode, error) {
	switch s {
	case "", "under_load":
		return CookiesUnderLoad, nil
	case "always":
		return CookiesAlways, nil
	case "off":
		return CookiesOff, nil
	}
	return 0, fmt.Errorf("kcp: unknown cookie mode %q (want under_load, always or off)", s)
}

// ParseMode parses "default", "normal" or "fast"; "" is fast.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeFast, nil
	case ModeDefault, ModeNormal, ModeFast:
		return Mode(s), nil
	}
	return "", fmt.Errorf("%w: %q (want default, normal or fast)", ErrBadMode, s)
}

// noDelay is the ikcp_nodelay argument set of a mode.
type noDelay struct {
	nodelay, interval, resend, nc int
	ackNoDelay                    bool // flush ACKs on every input instead of on the next update
}

func (m Mode) params() noDelay {
	switch m {
	case ModeDefault:
		return noDelay{0, 10, 0, 0, false}
	case ModeNormal:
		return noDelay{0, 10, 0, 1, false}
	}
	return noDelay{2, 10, 2, 1, true}
}

// Config configures a Transport (Listen, Serve) or a client session (Dial,
// DialPacketConn). Every field has a usable zero value; the comment gives the
// default that zero means. Both ends of a conversation must agree on Key,
// DataShards and ParityShards; the other fields are local.
type Config struct {
	// Mode is the KCP tuning preset; default ModeFast.
	Mode Mode
	// SendWindow and RecvWindow are the KCP windows in segments; default
	// 128 each.
	SendWindow, RecvWindow int
	// MTU is the largest datagram KCP emits, UDP header excluded; default
	// 1400, at most 1500. With FEC or a Key their headers come out of it.
	MTU int
	// MaxSessions bounds the transport's session table, sessions not yet
	// accepted included; datagrams that would open a session beyond it are
	// dropped and counted (KCPStats.Refused, Stats.Rejected). Default 10000.
	MaxSessions int
	// IdleTimeout closes a session that has received no datagram for this
	// long (OnClose gets engine.ErrIdleTimeout) and frees its state; it also
	// reaps table entries whose session was never accepted. Default 60s.
	// The server's own idle timeout (a per-packet deadline) applies on top.
	IdleTimeout time.Duration
	// DataShards and ParityShards turn on kcp-go's Reed-Solomon FEC when both
	// are positive; default 0/0: off. FEC is not part of ikcp's wire format.
	DataShards, ParityShards int
	// Key turns on encryption when not empty: AES-256-GCM with a key derived
	// from the passphrase by PBKDF2-SHA256 (salt "wharf-kcp", 4096
	// iterations). Default "": no encryption, the ikcp wire format.
	Key string
	// Cookies says when an address without a session must prove that it
	// receives datagrams sent to it (a return-routability cookie, see
	// cookie.go and the package documentation) before it may open one, so
	// that forged source addresses cannot fill the session table; default
	// CookiesUnderLoad. Only in plain mode (no FEC, no Key).
	Cookies CookieMode
	// SocketBuffer sets SO_RCVBUF and SO_SNDBUF of the UDP socket (when the
	// PacketConn supports it); default 4 MiB. The kernel caps it at
	// net.core.rmem_max / wmem_max.
	SocketBuffer int

	// Engine configures the engine that serves the sessions (see
	// engine.Engine.ServeConn): the send-queue limits (MaxOutbound,
	// MaxInbound, MaxPendingPerConn, MaxPendingTotal), the watermarks,
	// MaxConns and IdleTimeout on received bytes. Give it the message
	// server's engine configuration (server.Server.Config().Engine) so that
	// KCP sessions get the limits TCP connections have. Kind is always
	// engine.Goroutine (a goroutine per session); Logger and Clock default
	// to this Config's. Ignored by Dial.
	Engine engine.Config

	// Logger receives handler panics and transport errors; default
	// slog.Default().
	Logger *slog.Logger
	// Clock is the time source of the idle reaper and the clock in which
	// engine.Conn.SetDeadline's times are read, as on the reactor engine;
	// default time.Now. Give it the server's Clock.
	Clock func() time.Time
}

const (
	defaultWindow       = 128
	defaultMTU          = 1400
	maxMTU              = 1500
	minMTU              = 128
	defaultMaxSessions  = 10000
	defaultIdleTimeout  = 60 * time.Second
	defaultSocketBuffer = 4 << 20

	// keySalt and keyIterations derive the AES key from Config.Key. Both
	// ends must use the same values; they are part of the wire contract.
	keySalt       = "wharf-kcp"
	keyIterations = 4096
)

// withDefaults returns a copy with zero fields replaced by defaults, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	m, err := ParseMode(string(c.Mode))
	if err != nil {
		return c, fmt.Errorf("kcp: Config.Mode: %w", err)
	}
	c.Mode = m
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"SendWindow", &c.SendWindow, defaultWindow},
		{"RecvWindow", &c.RecvWindow, defaultWindow},
		{"MTU", &c.MTU, defaultMTU},
		{"MaxSessions", &c.MaxSessions, defaultMaxSessions},
		{"DataShards", &c.DataShards, 0},
		{"ParityShards", &c.ParityShards, 0},
		{"SocketBuffer", &c.SocketBuffer, defaultSocketBuffer},
	} {
		if *f.v < 0 {
			return c, fmt.Errorf("kcp: Config.%s must be >= 0, got %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.MTU < minMTU || c.MTU > maxMTU {
		return c, fmt.Errorf("kcp: Config.MTU must be in %d..%d, got %d", minMTU, maxMTU, c.MTU)
	}
	if c.SendWindow > 65535 || c.RecvWindow > 65535 {
		return c, fmt.Errorf("kcp: Config.SendWindow and RecvWindow must be <= 65535 (the wnd field is 16 bits)")
	}
	if (c.DataShards > 0) != (c.ParityShards > 0) || c.DataShards+c.ParityShards > 255 {
		return c, fmt.Errorf("kcp: Config.DataShards and ParityShards must be both 0 or both positive with a sum below 256, got %d/%d", c.DataShards, c.ParityShards)
	}
	if c.IdleTimeout < 0 {
		return c, fmt.Errorf("kcp: Config.IdleTimeout must be >= 0, got %v", c.IdleTimeout)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.Engine.Kind = engine.Goroutine
	if c.Engine.Logger == nil {
		c.Engine.Logger = c.Logger
	}
	if c.Engine.Clock == nil {
		c.Engine.Clock = c.Clock
	}
	return c, nil
}

// fec reports whether FEC is on.
func (c *Config) fec() bool { return c.DataShards > 0 }

// crypto derives the AEAD for Config.Key: kcp-go's BlockCrypt for the
// sessions and a separate cipher.AEAD (safe for concurrent use) with the same
// key for the gate's validation of datagrams from unknown addresses. Both
// are nil without a Key.
func (c *Config) crypto() (kcpgo.BlockCrypt, cipher.AEAD, error) {
	if c.Key == "" {
		return nil, nil, nil
	}
	key, err := pbkdf2.Key(sha256.New, c.Key, []byte(keySalt), keyIterations, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("kcp: derive key: %w", err)
	}
	block, err := kcpgo.NewAESGCMCrypt(key)
	if err != nil {
		return nil, nil, fmt.Errorf("kcp: %w", err)
	}
	ab, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, fmt.Errorf("kcp: %w", err)
	}
	aead, err := cipher.NewGCM(ab)
	if err != nil {
		return nil, nil, fmt.Errorf("kcp: %w", err)
	}
	return block, aead, nil
}

// configure applies the tuning to a kcp-go session. kcp-go sessions start
// with ikcp's defaults (windows 32, interval 100 ms); this runs before the
// session carries application data.
func (c *Config) configure(s *kcpgo.UDPSession) {
	p := c.Mode.params()
	s.SetStreamMode(true)
	s.SetWriteDelay(false)
	s.SetWindowSize(c.SendWindow, c.RecvWindow)
	s.SetMtu(c.MTU)
	s.SetNoDelay(p.nodelay, p.interval, p.resend, p.nc)
	s.SetACKNoDelay(p.ackNoDelay)
}
