package engine

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Kind selects the engine backend.
type Kind uint8

const (
	// Reactor is the epoll multi-reactor (Linux). Elsewhere New falls back to
	// Goroutine.
	Reactor Kind = iota
	// Goroutine runs one goroutine per connection on the standard net package.
	Goroutine
	// Uring is the reactor's event loops driven by io_uring (Linux 6.1+):
	// multishot accept and receive into provided buffer rings, sends and
	// every other request batched into one io_uring_enter per loop turn.
	// Where io_uring is missing, disabled or lacks a feature the loops
	// need, New logs one line and falls back to Reactor.
	Uring
	// Auto picks the fastest backend available here (see New).
	Auto
)

func (k Kind) String() string {
	switch k {
	case Reactor:
		return "reactor"
	case Goroutine:
		return "goroutine"
	case Uring:
		return "uring"
	case Auto:
		return "auto"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses "reactor", "goroutine", "uring" (or "io_uring") or
// "auto".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "reactor", "":
		return Reactor, nil
	case "goroutine":
		return Goroutine, nil
	case "uring", "io_uring":
		return Uring, nil
	case "auto":
		return Auto, nil
	}
	return 0, fmt.Errorf("engine: unknown engine kind %q (want reactor, goroutine, uring or auto)", s)
}

// Balance is how a shared listener spreads accepted connections over loops.
type Balance uint8

const (
	// RoundRobin hands connections to loops in turn.
	RoundRobin Balance = iota
	// LeastConns hands each connection to the loop with the fewest.
	LeastConns
)

// ReadMode chooses where the reactor reads socket data (Uring has its own
// way: see Config.ReadMode).
type ReadMode uint8

const (
	// ReadLoopBuffer reads into one buffer per loop and hands the handler a
	// view of it; only what the handler leaves unconsumed is copied into the
	// connection's elastic buffer. Fastest when handlers consume whole
	// messages, which is the common case.
	ReadLoopBuffer ReadMode = iota
	// ReadConnBuffer reads (readv) straight into the connection's elastic
	// buffer: no copy ever, one buffer chunk held while data is unconsumed.
	ReadConnBuffer
)

// Config configures an Engine. Every field has a usable zero value; the
// comment gives the default that zero means.
type Config struct {
	// Kind selects the backend; default Reactor.
	Kind Kind
	// Loops is the number of event loops; default runtime.GOMAXPROCS(0).
	// Ignored by the goroutine engine.
	Loops int
	// LockOSThread pins each loop to its own OS thread; default off (see
	// bench/RESULTS.md for the measurement behind the default). Uring
	// loops are always pinned: io_uring runs a ring's completions on the
	// one thread that submits to it.
	LockOSThread bool
	// BlockingWait makes an idle loop block its OS thread in epoll_wait, as
	// C reactors do, instead of parking its goroutine on the Go runtime's
	// netpoller until its epoll descriptor is readable (the default). The
	// default costs one more system call per sleep and wake-up and saves
	// the runtime's sysmon thread from waking every 20µs-10ms to take back
	// the P of each blocked loop: with many mostly idle connections spread
	// over many processes, that polling was most of the CPU (see
	// bench/RESULTS.md). On Uring the same choice is between blocking in
	// io_uring_enter and parking on an eventfd the ring signals.
	BlockingWait bool
	// ReusePort gives every loop its own SO_REUSEPORT listening socket for
	// each address passed to Listen, so the kernel spreads connections;
	// default off (one shared socket accepted by one loop, connections
	// balanced by Balance).
	ReusePort bool
	// Balance spreads connections of a shared listener; default RoundRobin.
	Balance Balance
	// ReadMode chooses the read path; default ReadLoopBuffer. Uring
	// ignores it: its data arrives in the loop's provided buffers, which
	// it uses as ReadLoopBuffer uses its read buffer.
	ReadMode ReadMode
	// ReadBufferSize is the per-loop read buffer (ReadLoopBuffer) or the
	// most one read reserves in a connection buffer; default 64 KiB.
	ReadBufferSize int
	// MaxConns bounds open connections in the engine; above it new ones are
	// closed at once and counted (Stats.Rejected). Default 0: unlimited.
	MaxConns int
	// IdleTimeout closes connections that receive nothing for this long;
	// default 0: none. Conn.SetIdleTimeout overrides it per connection.
	IdleTimeout time.Duration
	// TickInterval runs Ticker.OnTick on every loop this often; default 0: off.
	TickInterval time.Duration
	// TimerResolution is the tick of each loop's timing wheel; default 10ms.
	TimerResolution time.Duration
	// Clock returns the current time; default time.Now. Tests inject one.
	Clock func() time.Time

	// TCPDelay disables TCP_NODELAY (Nagle on); default off: NODELAY is set.
	TCPDelay bool
	// TCPKeepAlive sets SO_KEEPALIVE with this idle time; default 0: off.
	TCPKeepAlive time.Duration
	// SocketRecvBuffer and SocketSendBuffer set SO_RCVBUF/SO_SNDBUF; default
	// 0: the kernel's.
	SocketRecvBuffer, SocketSendBuffer int
	// Linger sets SO_LINGER: default 0 leaves the kernel's graceful close;
	// a negative value makes close send RST and drop unsent data (SO_LINGER
	// 0); a positive one lingers that long (whole seconds) in close.
	Linger time.Duration

	// WriteHighWater and WriteLowWater are the outbound backlog marks for
	// WatermarkHandler; defaults 64 KiB and 16 KiB.
	WriteHighWater, WriteLowWater int
	// MaxOutbound closes a connection whose outbound backlog would exceed
	// this many bytes (ErrOutboundFull); default 4 MiB.
	MaxOutbound int
	// MaxInbound closes a connection whose unconsumed inbound data exceeds
	// this many bytes (ErrInboundFull); default 4 MiB.
	MaxInbound int
	// MaxPendingPerConn closes a connection with more AsyncWrite messages
	// not yet written (ErrOutboundFull); default 0: unlimited.
	MaxPendingPerConn int
	// MaxPendingTotal refuses AsyncWrite with ErrOverloaded while the engine
	// holds more unwritten messages than this; default 0: unlimited.
	MaxPendingTotal int

	// Logger receives panics and loop errors; default slog.Default().
	Logger *slog.Logger
}

const (
	defaultReadBuffer      = 64 << 10
	defaultTimerResolution = 10 * time.Millisecond
	defaultHighWater       = 64 << 10
	defaultLowWater        = 16 << 10
	defaultMaxOutbound     = 4 << 20
	defaultMaxInbound      = 4 << 20
)

// withDefaults returns a copy with zero fields replaced by defaults, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Kind > Auto {
		return c, fmt.Errorf("engine: Config.Kind %d is not a known kind", c.Kind)
	}
	if c.Loops < 0 {
		return c, fmt.Errorf("engine: Config.Loops must be >= 0, got %d", c.Loops)
	}
	if c.Loops == 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.Balance > LeastConns {
		return c, fmt.Errorf("engine: Config.Balance %d is not a known balance", c.Balance)
	}
	if c.ReadMode > ReadConnBuffer {
		return c, fmt.Errorf("engine: Config.ReadMode %d is not a known read mode", c.ReadMode)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"ReadBufferSize", &c.ReadBufferSize, defaultReadBuffer},
		{"WriteHighWater", &c.WriteHighWater, defaultHighWater},
		{"WriteLowWater", &c.WriteLowWater, defaultLowWater},
		{"MaxOutbound", &c.MaxOutbound, defaultMaxOutbound},
		{"MaxInbound", &c.MaxInbound, defaultMaxInbound},
		{"MaxConns", &c.MaxConns, 0},
		{"MaxPendingPerConn", &c.MaxPendingPerConn, 0},
		{"MaxPendingTotal", &c.MaxPendingTotal, 0},
		{"SocketRecvBuffer", &c.SocketRecvBuffer, 0},
		{"SocketSendBuffer", &c.SocketSendBuffer, 0},
	} {
		if *f.v < 0 {
			return c, fmt.Errorf("engine: Config.%s must be >= 0, got %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.ReadBufferSize < 512 {
		return c, fmt.Errorf("engine: Config.ReadBufferSize must be >= 512, got %d", c.ReadBufferSize)
	}
	if c.WriteLowWater > c.WriteHighWater {
		return c, fmt.Errorf("engine: Config.WriteLowWater (%d) must not exceed WriteHighWater (%d)", c.WriteLowWater, c.WriteHighWater)
	}
	if c.IdleTimeout < 0 || c.TickInterval < 0 || c.TimerResolution < 0 || c.TCPKeepAlive < 0 {
		return c, fmt.Errorf("engine: Config durations must be >= 0")
	}
	if c.TimerResolution == 0 {
		c.TimerResolution = defaultTimerResolution
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
