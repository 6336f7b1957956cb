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
//   - Uring (Linux 6.1 or later): the same loops, talking to the kernel
//     through io_uring instead of epoll and system calls (see the io_uring
//     section). Where io_uring is missing, disabled (kernel.io_uring_disabled,
//     a container's seccomp profile) or lacks an operation the loops need,
//     New logs one line and runs Reactor; Config and Stats then say Reactor.
//   - Goroutine: one goroutine per connection on the standard net package
//     (the seeds' coroutine model). It is what runs off Linux, where Reactor
//     falls back to it.
//   - Auto: the fastest backend available under load: Uring where io_uring
//     runs (1.00-1.08x the reactor's messages/s on the echo scenarios of
//     bench/RESULTS.md), else Reactor. Reactor stays the default because it
//     costs less per round trip when most connections are idle.
//
// All three pass the same conformance suite (conformance_test.go), and so does
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
// # io_uring
//
// A Uring loop is a Reactor loop with another driver (the ioDriver seam in
// driver_linux.go): tasks, timers, callbacks, the outbound backlog, limits
// and closing are the same code; what changes is who does the I/O and who
// owns which memory when.
//
//   - Reading. Each connection has one multishot receive armed from
//     registration to close. It names no buffer: the kernel takes one from
//     the loop's provided buffer ring (512 KiB, shared by all the loop's
//     connections; consumed incrementally on Linux 6.12+, so one 64 KiB
//     buffer holds many small messages) only when data arrives, so an idle
//     connection pins no read memory. The buffer belongs to the kernel until
//     the receive's completion names it; the loop then hands its bytes to
//     OnData as the read view (the same lifetime as the reactor's per-loop
//     read buffer: until the callback returns or the next Next or Discard),
//     copies what the handler left unconsumed into the connection's elastic
//     buffer, and returns the buffer to the ring before the turn ends. A
//     receive that finds the ring empty ends with ENOBUFS and is re-armed.
//   - Writing. Write and AsyncWrite fill the connection's outbound buffer as
//     on the reactor; at the end of the turn each connection with bytes
//     queued gets one send (sendmsg over the buffer's chunks when there are
//     several) pointing into that buffer. Those chunks are pinned, neither
//     discarded nor recycled, until the send's completion; bytes written
//     meanwhile wait for the next send. A connection closed with a send in
//     flight keeps its chunks and its slot until the kernel is done with
//     them, so it never reads memory handed to another connection.
//     AsyncWrite's done runs when the completion says the bytes are on the
//     socket.
//   - Files. AsyncSendFile splices file to pipe to socket through the ring;
//     the file read happens in the kernel's workers, not on the loop. done
//     runs once the kernel is through with the file, also when the
//     connection closes first.
//   - Accepting, closing, waking. Each listener has a multishot accept;
//     EMFILE sheds with the reserve descriptor as on the reactor. Closes
//     and cancellations are requests too.
//
// Batching: everything a turn produces (sends, re-armed receives, closes)
// goes to the kernel with the one io_uring_enter that also collects the
// next turn's completions; with IORING_SETUP_DEFER_TASKRUN the kernel does
// the receive work inside that call, on the loop's thread, which is why a
// Uring loop is locked to its OS thread. An idle loop parks on an eventfd
// the ring signals (registered with the Go netpoller, as the reactor's
// epoll descriptor is; the io_uring descriptor itself is not woken under
// DEFER_TASKRUN), or with BlockingWait blocks in io_uring_enter with a
// timeout. Other goroutines wake it through the same eventfd. Completions
// carry the connection's slot and registration sequence, so one of a
// closed connection never reaches the connection that reuses the slot.
//
// Counting system calls per message, per backend: echobench -syscalls DIR
// (bench/cmd/echobench/syscalls.go) runs perf trace -s on the server over
// each measured run. An echo at 100 connections does about 1.3 calls per
// message on Reactor (read and write) and about 0.04 on Uring (one
// io_uring_enter per turn), in a short run on a loaded machine.
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
