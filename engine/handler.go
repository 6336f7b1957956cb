package engine

import (
	"net"
	"os"
	"time"
)

// Handler receives a connection's events. One Handler serves every
// connection of an Engine, on either backend.
//
// Callbacks for one connection never run concurrently with each other: on the
// reactor they run on the connection's event loop, on the goroutine engine on
// the connection's goroutine (or under its lock). A callback must not block:
// on the reactor a blocking callback stalls every connection of its loop. Hand
// slow work to other goroutines and reply with Conn.AsyncWrite.
type Handler interface {
	// OnOpen runs once, before any OnData, when a connection is accepted or a
	// dialed connection is established.
	OnOpen(c Conn)

	// OnData runs when new inbound bytes are buffered. The handler consumes
	// what it can with Peek/Next/Discard and leaves the rest (a partial
	// message) for the next call. A non-nil error closes the connection and is
	// passed to OnClose.
	OnData(c Conn) error

	// OnClose runs once when the connection is closed; err says why (see
	// CloseReasonOf). Writes are no longer possible; inbound data that was not
	// consumed is discarded after OnClose returns.
	OnClose(c Conn, err error)
}

// Booter is implemented by handlers that want to know when the engine starts.
// OnBoot runs once, before any connection is served.
type Booter interface {
	OnBoot(e *Engine)
}

// Ticker is implemented by handlers that want a periodic hook on every loop
// (Config.TickInterval). On the reactor OnTick runs on loop `loop` between
// events; on the goroutine engine it runs on one ticker goroutine with loop 0.
type Ticker interface {
	OnTick(loop int, now time.Time)
}

// WatermarkHandler is implemented by handlers that want backpressure
// notifications: OnWatermark(c, true) when the connection's outbound backlog
// rises above Config.WriteHighWater, and OnWatermark(c, false) when it falls
// back below Config.WriteLowWater. Runs with the connection's callbacks.
type WatermarkHandler interface {
	OnWatermark(c Conn, high bool)
}

// WriteDone is called when the bytes of an AsyncWrite have been written to
// the socket (err nil) or can no longer be (err says why, typically
// ErrConnClosed). After it runs the caller may reuse the buffer.
type WriteDone func(c Conn, err error)

// Conn is one connection. Methods fall in two groups.
//
// Loop methods (Peek, Next, Discard, InboundBuffered, Write, Writev,
// OutboundBuffered, SetIdleTimeout, SetDeadline, SetContext) may be called
// only from the connection's callbacks (OnOpen, OnData, OnClose, OnWatermark)
// or from a function passed to Run; they are not synchronised.
//
// Any-goroutine methods (AsyncWrite, AsyncWritev, AsyncWriteBatch, AsyncSendFile, Run, AfterFunc, Close, ID,
// Context, LocalAddr, RemoteAddr, Pending, Loop) are safe to call from any
// goroutine at any time, also after the connection closed (they then report
// ErrConnClosed or do nothing).
type Conn interface {
	// Peek returns the next n inbound bytes without consuming them; n <= 0
	// means all buffered bytes. With fewer than n bytes buffered it returns
	// what there is and io.ErrShortBuffer. The slice is valid until the
	// callback returns or the next inbound call (Next, Discard), whichever is
	// first; copy what must outlive it.
	Peek(n int) ([]byte, error)
	// Next is Peek followed by consuming the bytes returned; same lifetime.
	Next(n int) ([]byte, error)
	// Discard consumes up to n inbound bytes (n <= 0: all) and reports how many.
	Discard(n int) (int, error)
	// InboundBuffered reports how many inbound bytes are buffered.
	InboundBuffered() int

	// Write queues p for the socket. It never blocks: bytes are written when
	// the current callback returns (coalescing many small writes into one
	// system call); what the socket does not take stays in the outbound
	// buffer and goes out when the socket is writable again. p is copied
	// (or written at once), so the caller may reuse it on return.
	// It fails with ErrOutboundFull, closing the connection, when the
	// backlog would exceed Config.MaxOutbound.
	Write(p []byte) (int, error)
	// Writev is Write for several slices.
	Writev(bufs [][]byte) (int, error)
	// OutboundBuffered reports the bytes accepted but not yet written.
	OutboundBuffered() int

	// SetIdleTimeout closes the connection with ErrIdleTimeout after d
	// without inbound data (0 disables; Config.IdleTimeout is the default).
	SetIdleTimeout(d time.Duration)
	// SetDeadline closes the connection with ErrDeadlineExceeded at t (the
	// zero time disables).
	SetDeadline(t time.Time)
	// SetContext attaches a user value. Set it in OnOpen, before other
	// goroutines see the Conn; Context may then be read anywhere.
	SetContext(ctx any)
	// Context returns the value set by SetContext.
	Context() any

	// AsyncWrite queues p to be written by the connection's loop, keeping the
	// order of AsyncWrite calls made by one goroutine. The engine reads p
	// later: the caller must not modify p until done runs (with a nil done,
	// never). done, if not nil, runs on the loop when p has reached the
	// socket or failed. The write counts against Config.MaxPendingPerConn and
	// Config.MaxPendingTotal: over the first the connection is closed with
	// ErrOutboundFull, over the second the write is refused with
	// ErrOverloaded and the connection stays. On error done is not called.
	AsyncWrite(p []byte, done WriteDone) error
	// AsyncWritev is AsyncWrite for several slices, counted as one message.
	AsyncWritev(bufs [][]byte, done WriteDone) error
	// AsyncWriteBatch is AsyncWritev for bufs that hold n messages back to
	// back (a worker's replies to one connection, say): one write, one
	// task for the loop, one done, but it counts as n messages against
	// Config.MaxPendingPerConn and Config.MaxPendingTotal and in Pending
	// until it is written, so batching messages changes neither limit. The
	// batch is admitted or refused whole: refused with ErrOverloaded when
	// the engine's pending messages plus n would exceed MaxPendingTotal,
	// closing the connection with ErrOutboundFull when its own would
	// exceed MaxPendingPerConn. n < 1 counts as 1.
	AsyncWriteBatch(bufs [][]byte, n int, done WriteDone) error
	// AsyncSendFile queues n bytes of f from offset off, in order with the
	// other writes, sent with sendfile(2) where the engine can (no copy
	// through user space). f must stay open until done runs; done must not
	// be nil. The file's own offset is neither used nor changed.
	AsyncSendFile(f *os.File, off, n int64, done WriteDone) error
	// Run runs fn with the connection's callbacks (on its loop), unless the
	// connection has closed by then, in which case fn is dropped.
	Run(fn func(c Conn)) error
	// AfterFunc runs fn with the connection's callbacks after d, unless the
	// connection has closed by then.
	AfterFunc(d time.Duration, fn func(c Conn)) error
	// Close closes the connection after the outbound backlog is written
	// (bounded by the connection's timeouts). OnClose then runs with a nil
	// error. Further calls are no-ops.
	Close() error
	// Pending reports AsyncWrite messages not yet written to the socket
	// (AsyncWriteBatch's n each).
	Pending() int

	// ID is unique within the process (across engines) and never reused.
	ID() uint64
	// Loop is the index of the event loop serving the connection.
	Loop() int
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
}

// BaseHandler has no-op methods; embed it to implement only what you need.
type BaseHandler struct{}

// OnOpen does nothing.
func (BaseHandler) OnOpen(Conn) {}

// OnData discards everything buffered.
func (BaseHandler) OnData(c Conn) error { c.Discard(-1); return nil }

// OnClose does nothing.
func (BaseHandler) OnClose(Conn, error) {}
