// Package engine serves many long-lived connections with one Handler, on a
// choice of backends behind one API.
//
// # Backends
//
// Config.Kind picks how connections are driven:
//
//   - Reactor (the default, Linux): the epoll multi-reactor of seed 003.
//     Config.Loops event loops (one per core by default), each with its own
//     epoll instance, eventfd wake-up, task queue, timing wheel and
//     connection table. Sockets are level-triggered; a write goes straight
//     to the socket and EPOLLOUT is armed only when the kernel pushes back
//     (seed 002's send path). An idle loop parks its goroutine on the Go
//     netpoller instead of blocking an OS thread (Config.BlockingWait opts
//     out). Events are checked against a per-slot sequence number, so an
//     event of a closed connection never reaches the connection that reuses
//     its slot or descriptor.
//   - Goroutine: one goroutine per connection on the standard net package
//     (the seeds' coroutine model). It is what runs off Linux, where Reactor
//     falls back to it.
//
// Both pass the same conformance suite (conformance_test.go), and so does
// a third way in, Engine.ServeConn, which serves any net.Conn made outside
// the engine (a KCP session, a TLS connection) as an ordinary connection:
// same Handler, send queue, limits, deadlines, Each, Shutdown and Stats.
// That is how the kcp package and other transports reuse the engine instead
// of re-implementing a connection: they give it their net.Conns and a few
// ConnOptions hooks (how much to write per call, how to linger on close,
// how to name a close they caused).
//
// # Handlers and goroutines
//
// Callbacks of one connection (OnOpen, OnData, OnClose, OnWatermark, and
// functions passed to Conn.Run and Conn.AfterFunc) never run concurrently.
// On the reactor they run on the connection's event loop, so a callback that
// blocks stalls every connection of that loop: hand slow work to other
// goroutines and reply with Conn.AsyncWrite. On the goroutine backend and
// for ServeConn's connections they run on the connection's own goroutine
// (or under its lock for Run, AfterFunc and Each).
//
// Conn's methods fall in two groups, as its documentation says. Loop
// methods (Peek, Next, Discard, InboundBuffered, Write, Writev,
// OutboundBuffered, SetIdleTimeout, SetDeadline, SetContext) may be called
// only from the connection's callbacks. Any-goroutine methods (AsyncWrite,
// AsyncWritev, AsyncSendFile, Run, AfterFunc, Close, ID, Context,
// LocalAddr, RemoteAddr, Pending, Loop) are safe from any goroutine, also
// after the connection closed: they then return ErrConnClosed or do
// nothing. Functions passed to Run from one goroutine run in the order of
// the calls, on every backend.
//
// # Inbound bytes and their lifetime
//
// OnData runs when new bytes are buffered. The handler consumes whole
// messages with Peek, Next and Discard and leaves a partial one for the next
// call. The reactor reads into one buffer per loop and hands the handler a
// view of it: a slice from Peek or Next is valid until the callback returns
// or the next Next or Discard, whichever is first. Only the bytes a handler
// leaves unconsumed are copied into the connection's elastic buffer
// (package buffer), which holds no memory while empty, so an idle
// connection costs a few hundred bytes. More than Config.MaxInbound
// unconsumed bytes close the connection (ErrInboundFull).
//
// # Outbound bytes
//
// Write, from a callback, appends to the connection's outbound buffer; the
// loop writes everything a callback queued in one writev when the callback
// returns, so sixteen pipelined replies cost one system call. AsyncWrite,
// from any goroutine, hands a message to the connection's loop, keeping the
// order of the calls made by one goroutine; its done callback runs once the
// bytes reached the socket or failed, and until then the caller must not
// modify them. Three limits bound what a connection can make the process
// hold: MaxOutbound bytes and MaxPendingPerConn messages per connection
// (over them the connection is closed with ErrOutboundFull: a slow or
// malicious reader), and MaxPendingTotal messages in the engine (over it
// AsyncWrite fails with ErrOverloaded and the connection stays).
// WatermarkHandler tells a handler when the backlog rises above
// WriteHighWater and falls below WriteLowWater. AsyncSendFile sends a file
// range in order with the other writes, with sendfile(2) on the reactor.
//
// # Time
//
// Every deadline, idle timeout and AfterFunc is read on Config.Clock
// (time.Now by default), on every backend, so tests can inject a clock. The
// reactor keeps them on each loop's timing wheel (package timingwheel);
// goroutine-served connections arm a runtime timer for the earliest one and
// check it against the clock when it fires. Idle time is tracked lazily: a
// read only stores the time, and the timer re-arms itself if it fires
// early, so a busy connection costs no timer work per read. Only the waits
// of a graceful close are bounded in real time (10 s): they wait for a peer.
//
// # Lifecycle
//
// New validates the Config (errors name the field), Listen or AddListener
// add listeners before or after Start, Serve blocks until Shutdown has
// finished. StopAccepting closes the listeners and returns once no backend
// goroutine accepts; open connections are served on. Shutdown closes every
// connection after writing its backlog (OnClose gets ErrEngineClosed), at
// once when its context ends, and waits for the loops. Start or Serve a
// second time fails with ErrStarted; Serve after Shutdown returns
// ErrEngineClosed.
//
// # Errors and close reasons
//
// OnClose receives why a connection closed: nil after Close, io.EOF when
// the peer closed, ErrIdleTimeout, ErrDeadlineExceeded, ErrOutboundFull,
// ErrInboundFull, ErrEngineClosed, a *PanicError when a callback panicked
// (the panic is recovered, logged and counted; the loop goes on), an
// *OpError for a failed system call, or the error OnData returned.
// CloseReasonOf classifies them for counters; Stats counts closes by
// reason, and much else, for the stats line and /metrics.
package engine
