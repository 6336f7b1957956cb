package server

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"wharf/engine"
	"wharf/packet"
)

// Config configures a Server. Zero fields take the defaults in their
// comments, which are the seed's (SPEC §3).
type Config struct {
	// MaxConnections bounds open connections; above it new ones are closed at
	// once and counted (kick reason "limit"). Default 65536.
	MaxConnections int
	// MaxConnectionsPerIP bounds the open connections of one source
	// address (an IPv4 address or an IPv6 /64) over every transport of the
	// server; past it a new connection gets a code 1 notice and is closed
	// (kick "source_limit"). Default 0: no limit.
	MaxConnectionsPerIP int
	// IdleTimeout closes a connection that sends no complete packet for this
	// long; any packet resets it. Default 60s; negative disables.
	IdleTimeout time.Duration
	// FloodMode selects the flood guard; default FloodByRate.
	FloodMode FloodMode
	// FloodRate and FloodBurst are FloodByRate's token bucket: a connection
	// may send FloodBurst packets at once and FloodRate packets/s
	// sustained; one that exceeds it is closed (kick "flood"). Defaults
	// 5000/s and 5000: far above a 60 Hz game client or a client that
	// pipelines 100 requests, above wharf-bench's unpaced defaults on
	// loopback (about 2,000/s per connection with 50), and below a
	// connection flooding at tens of thousands of packets/s.
	FloodRate  float64
	FloodBurst int
	// FloodInterval and FloodCount are FloodByInterval's rule (seed 002):
	// FloodCount consecutive packets, each less than FloodInterval after the
	// previous one, close the connection. Defaults 100ms and 10.
	FloodInterval time.Duration
	FloodCount    int
	// MaxPendingPerConn closes a connection with more unsent packets than
	// this (a slow or malicious reader). Default 400.
	MaxPendingPerConn int
	// MaxPendingTotal drops (and counts) new outbound packets while the
	// server holds this many unsent. Default 50000.
	MaxPendingTotal int
	// Handlers is the number of worker goroutines running handlers. Default
	// 4 x GOMAXPROCS.
	Handlers int
	// HandlerQueue bounds requests waiting for a worker; past it requests are
	// answered with a code 1 "overloaded" error. Default max(64 x Handlers,
	// 16384): room for a burst from many connections at once, and a bound on
	// queueing delay (16384 requests is ~16ms at a million requests/s).
	HandlerQueue int
	// MaxQueuedPerConn bounds one connection's waiting requests, so a single
	// pipelining client cannot fill HandlerQueue. Default 128.
	MaxQueuedPerConn int
	// StatsInterval logs a stats line this often. Default 10s; negative disables.
	StatsInterval time.Duration
	// MaxPacket is the largest packet accepted (header included). Default
	// 16384, at most 65535.
	MaxPacket int
	// MaxBadPackets closes a connection after this many CRC mismatches.
	// Default 3; negative never closes.
	MaxBadPackets int
	// KickLogRate bounds kick log lines per second (the rest are counted
	// and reported in the stats line). Default 10.
	KickLogRate int

	// Engine configures the TCP engine; the server sets its MaxConns,
	// MaxPending* and Logger from the fields above.
	Engine engine.Config
	// Logger receives stats lines, kicks and handler panics. Default slog.Default().
	Logger *slog.Logger
	// Clock is the time source for flood and idle checks. Default time.Now.
	Clock func() time.Time
}

// FloodMode selects how the server tells a flood from an honest client.
type FloodMode uint8

const (
	// FloodByRate is a per-connection token bucket (Config.FloodRate,
	// FloodBurst).
	FloodByRate FloodMode = iota
	// FloodByInterval is seed 002's rule (Config.FloodInterval,
	// FloodCount): it kicks any client that sends FloodCount packets in a
	// row faster than one per FloodInterval, which includes pipelining and
	// 20 Hz clients; kept for compatibility.
	FloodByInterval
	// FloodOff disables the guard (benchmarks).
	FloodOff
)

var floodModeNames = [...]string{"bucket", "interval", "off"}

func (m FloodMode) String() string {
	if int(m) < len(floodModeNames) {
		return floodModeNames[m]
	}
	return fmt.Sprintf("FloodMode(%d)", uint8(m))
}

// ParseFloodMode parses "bucket" (or ""), "interval" or "off".
func ParseFloodMode(s string) (FloodMode, error) {
	if s == "" {
		return FloodByRate, nil
	}
	for i, n := range floodModeNames {
		if s == n {
			return FloodMode(i), nil
		}
	}
	return 0, fmt.Errorf("server: unknown flood mode %q (want bucket, interval or off)", s)
}

func (c Config) withDefaults() (Config, error) {
	def := func(name string, v *int, d int) error {
		if *v < 0 {
			return fmt.Errorf("server: Config.%s must be >= 0, got %d", name, *v)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	if err := def("MaxConnections", &c.MaxConnections, 65536); err != nil {
		return c, err
	}
	if err := def("MaxPendingPerConn", &c.MaxPendingPerConn, 400); err != nil {
		return c, err
	}
	if err := def("MaxPendingTotal", &c.MaxPendingTotal, 50000); err != nil {
		return c, err
	}
	if err := def("Handlers", &c.Handlers, 4*runtime.GOMAXPROCS(0)); err != nil {
		return c, err
	}
	if err := def("HandlerQueue", &c.HandlerQueue, max(64*c.Handlers, 16384)); err != nil {
		return c, err
	}
	if err := def("MaxQueuedPerConn", &c.MaxQueuedPerConn, 128); err != nil {
		return c, err
	}
	if err := def("MaxPacket", &c.MaxPacket, packet.DefaultMaxPacket); err != nil {
		return c, err
	}
	if err := def("KickLogRate", &c.KickLogRate, 10); err != nil {
		return c, err
	}
	if c.MaxPacket <= packet.HeaderSize || c.MaxPacket > packet.MaxPacketLimit {
		return c, fmt.Errorf("server: Config.MaxPacket must be in %d..%d, got %d", packet.HeaderSize+1, packet.MaxPacketLimit, c.MaxPacket)
	}
	if c.MaxBadPackets == 0 {
		c.MaxBadPackets = 3
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	switch c.FloodMode {
	case FloodByRate, FloodByInterval, FloodOff:
	default:
		return c, fmt.Errorf("server: Config.FloodMode %d is not a known mode", c.FloodMode)
	}
	if c.FloodRate < 0 || c.FloodBurst < 0 {
		return c, fmt.Errorf("server: Config.FloodRate and FloodBurst must be >= 0, got %v and %d", c.FloodRate, c.FloodBurst)
	}
	if c.FloodRate == 0 {
		c.FloodRate = 5000
	}
	if c.FloodBurst == 0 {
		c.FloodBurst = 5000
	}
	if c.FloodCount < 0 { // the old way to turn the guard off
		c.FloodMode, c.FloodCount = FloodOff, 0
	}
	if c.FloodInterval < 0 {
		return c, fmt.Errorf("server: Config.FloodInterval must be >= 0, got %v", c.FloodInterval)
	}
	if c.FloodInterval == 0 {
		c.FloodInterval = 100 * time.Millisecond
	}
	if c.FloodCount == 0 {
		c.FloodCount = 10
	}
	if c.FloodCount == 1 {
		return c, fmt.Errorf("server: Config.FloodCount must be >= 2, got 1")
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.Engine.MaxConns = c.MaxConnections
	c.Engine.MaxPendingPerConn = c.MaxPendingPerConn
	c.Engine.MaxPendingTotal = c.MaxPendingTotal
	if c.Engine.Logger == nil {
		c.Engine.Logger = c.Logger
	}
	if c.Engine.Clock == nil {
		c.Engine.Clock = c.Clock
	}
	return c, nil
}
