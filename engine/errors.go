package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
)

var (
	// ErrEngineClosed is returned by Serve after Shutdown, and passed to
	// OnClose for connections closed by Shutdown.
	ErrEngineClosed = errors.New("engine: closed")
	// ErrConnClosed is returned by methods of a connection that has closed.
	ErrConnClosed = errors.New("engine: connection closed")
	// ErrIdleTimeout closes a connection that received nothing for its idle timeout.
	ErrIdleTimeout = errors.New("engine: idle timeout")
	// ErrDeadlineExceeded closes a connection whose deadline passed. It
	// matches os.ErrDeadlineExceeded with errors.Is.
	ErrDeadlineExceeded error = deadlineError{}
	// ErrOutboundFull closes a connection whose outbound backlog passed
	// Config.MaxOutbound bytes or Config.MaxPendingPerConn messages: a slow
	// or malicious reader.
	ErrOutboundFull = errors.New("engine: outbound backlog over limit (slow reader)")
	// ErrInboundFull closes a connection that buffered more than
	// Config.MaxInbound bytes the handler did not consume.
	ErrInboundFull = errors.New("engine: inbound backlog over limit")
	// ErrOverloaded refuses an AsyncWrite while the whole engine holds more
	// than Config.MaxPendingTotal unwritten messages. The connection stays open.
	ErrOverloaded = errors.New("engine: too many pending writes (overloaded)")
	// ErrTooManyConns is reported for connections refused by Config.MaxConns.
	ErrTooManyConns = errors.New("engine: connection limit reached")
	// ErrNotStarted is returned by Dial before Start or Serve.
	ErrNotStarted = errors.New("engine: not started")
	// ErrNilDone is returned by AsyncSendFile without a done callback: the
	// file must stay open until it runs.
	ErrNilDone = errors.New("engine: AsyncSendFile needs a done callback (the file must stay open until it runs)")
	// ErrStarted is returned by Start or Serve on an engine already started.
	ErrStarted = errors.New("engine: already started")
)

type deadlineError struct{}

func (deadlineError) Error() string        { return "engine: deadline exceeded" }
func (deadlineError) Is(target error) bool { return target == os.ErrDeadlineExceeded }
func (deadlineError) Timeout() bool        { return true }

// PanicError is passed to OnClose when a callback of the connection panicked.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("engine: handler panic: %v", e.Value) }

// OpError wraps a system call failure on a connection or listener.
type OpError struct {
	Op  string // "read", "write", "accept", ...
	Err error
}

func (e *OpError) Error() string { return "engine: " + e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// CloseReason classifies why a connection closed, for counters and logs.
type CloseReason uint8

// Close reasons. The zero value is ReasonLocal.
const (
	ReasonLocal    CloseReason = iota // Close was called (err nil)
	ReasonPeer                        // the peer closed (io.EOF)
	ReasonError                       // an I/O error such as a reset
	ReasonHandler                     // OnData returned an error
	ReasonIdle                        // ErrIdleTimeout
	ReasonDeadline                    // ErrDeadlineExceeded
	ReasonOutbound                    // ErrOutboundFull
	ReasonInbound                     // ErrInboundFull
	ReasonPanic                       // a callback panicked
	ReasonShutdown                    // ErrEngineClosed
	numReasons
)

var reasonNames = [numReasons]string{"local", "peer", "error", "handler", "idle", "deadline", "outbound_full", "inbound_full", "panic", "shutdown"}

func (r CloseReason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("CloseReason(%d)", uint8(r))
}

// CloseReasonOf classifies the error passed to OnClose.
func CloseReasonOf(err error) CloseReason {
	var pe *PanicError
	var oe *OpError
	switch {
	case err == nil:
		return ReasonLocal
	case err == io.EOF:
		return ReasonPeer
	case err == ErrIdleTimeout:
		return ReasonIdle
	case err == ErrDeadlineExceeded:
		return ReasonDeadline
	case err == ErrOutboundFull:
		return ReasonOutbound
	case err == ErrInboundFull:
		return ReasonInbound
	case err == ErrEngineClosed:
		return ReasonShutdown
	case errors.As(err, &pe):
		return ReasonPanic
	case errors.As(err, &oe):
		return ReasonError
	}
	return ReasonHandler
}
