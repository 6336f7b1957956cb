package client

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is: most are returned wrapped,
// with the request's code or the server's address.
var (
	// ErrClosed is returned by every method once Close was called, and by
	// the requests that were waiting for a reply when it was.
	ErrClosed = errors.New("client: closed")

	// ErrTimeout is matched by a request that got no reply in time: the
	// context's deadline or, without one, Config.RequestTimeout. The error
	// also matches context.DeadlineExceeded. The request was sent (or was
	// still waiting for a connection); its late reply is discarded.
	ErrTimeout = errors.New("client: request timed out")

	// ErrConnLost is matched by *ConnError: the connection failed while the
	// request was outstanding. The request was written, or was about to be,
	// and may or may not have been handled by the server; the client never
	// resends it (requests are not idempotent).
	ErrConnLost = errors.New("client: connection lost")

	// ErrNotConnected is returned by Send while the client is between
	// connections (reconnecting): Send has no context to wait with.
	ErrNotConnected = errors.New("client: not connected")

	// ErrTooLarge is returned (wrapped, with the size) for a body that would
	// make a packet longer than Config.MaxPacket. Nothing was sent.
	ErrTooLarge = errors.New("client: packet larger than MaxPacket")

	// ErrReservedCode is returned (wrapped) for a request with code 1
	// (error replies are the server's) or one of Config.PushCodes, which
	// the server never answers.
	ErrReservedCode = errors.New("client: code cannot be requested")

	// ErrSendBufferFull is returned when more than maxOutBytes of packets
	// are waiting to be written: the server reads slower than the caller
	// sends (typically a flood of Send calls). Nothing was sent.
	ErrSendBufferFull = errors.New("client: send buffer full")

	// ErrKeepAlive is matched by the *ConnError of a connection that
	// answered nothing for a whole KeepAlive period after a keep-alive ping:
	// the server or the path to it is gone without closing the connection.
	ErrKeepAlive = errors.New("client: no reply to keep-alive ping")
)

// ServerError is a code 1 reply, {"code": <request code>, "error": "..."},
// to a request with code Code: the server could not handle it (unknown code,
// malformed body, "overloaded"). Branch on Code and on the fact of the error,
// not on Message, which is for people.
type ServerError struct {
	Code    uint16 // the request's code
	Message string // the server's reason
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("client: server error for code %d: %s", e.Code, e.Message)
}

// AppError is a demo-application refusal, {"ok": false, "error": "..."}:
// the server handled the request and said no (a taken username, a wrong
// password, say without login).
type AppError struct {
	Code    uint16 // the request's code (CodeRegister, CodeLogin, CodeSay)
	Message string // the server's reason
}

func (e *AppError) Error() string {
	return fmt.Sprintf("client: code %d refused: %s", e.Code, e.Message)
}

// ChannelError is a channel request's refusal (codes 9 to 17), {"ok":
// false, "reason": "<token>", "error": "..."}: Reason is the token of
// packet/SPEC.md section 8.3 ("permission_denied", "not_subscribed", ...)
// to branch on; Message is for people.
type ChannelError struct {
	Code    uint16 // the request's code
	Channel string // the request's channel, or user for a direct message
	Reason  string
	Message string
}

func (e *ChannelError) Error() string {
	return fmt.Sprintf("client: code %d on %q refused (%s): %s", e.Code, e.Channel, e.Reason, e.Message)
}

// DialError reports a failed connection attempt to Addr. Err is the
// dialer's error (usually a *net.OpError).
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return "client: dial " + e.Addr + ": " + e.Err.Error() }

// Unwrap returns the dialer's error.
func (e *DialError) Unwrap() error { return e.Err }

// ConnError reports a connection that failed: the server closed it, a read
// or write failed, the server sent a packet that cannot be framed
// (errors.Is(err, packet.ErrLength)), or keep-alive pings went unanswered
// (ErrKeepAlive). It matches ErrConnLost. Requests outstanding at that
// moment fail with it, and Client.Err returns it when the client did not
// reconnect.
type ConnError struct {
	Addr string // the server's address as given to Dial
	Err  error  // what happened
}

func (e *ConnError) Error() string {
	return "client: connection to " + e.Addr + " lost: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrConnLost) true.
func (e *ConnError) Is(target error) bool { return target == ErrConnLost }
