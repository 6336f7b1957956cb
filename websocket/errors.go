package websocket

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrClosed is returned by writes after the close handshake began (a
	// close frame was sent or received) or the connection closed.
	ErrClosed = errors.New("websocket: connection closed")
	// ErrControlTooLong is returned by Ping and Close for a payload over the
	// 125 bytes a control frame may carry (a close reason: 123 bytes).
	ErrControlTooLong = errors.New("websocket: control frame payload over 125 bytes")
	// ErrInvalidUTF8 is returned by WriteText and Close for text that is not
	// valid UTF-8: the peer would have to fail the connection.
	ErrInvalidUTF8 = errors.New("websocket: text is not valid UTF-8")
	// ErrInvalidCloseCode is returned by Close for a status code that may
	// not be sent in a close frame (see StatusCode.Valid).
	ErrInvalidCloseCode = errors.New("websocket: status code not allowed in a close frame")
	// ErrNotEngine is returned by Server.Upgrade for a ResponseWriter that
	// neither comes from an httpd server nor can be hijacked (HTTP/2).
	ErrNotEngine = errors.New("websocket: the connection can be neither handed to an engine loop nor hijacked")
	// ErrBadHandshake is returned by Dial when the server's response is not
	// a valid WebSocket handshake (the error wraps it with the details).
	ErrBadHandshake = errors.New("websocket: bad handshake")
	// ErrMessageType is returned for a message type other than
	// MessageText and MessageBinary.
	ErrMessageType = errors.New("websocket: message type must be text or binary")
	errNilHandler  = errors.New("websocket: nil Handler")
)

// StatusCode is a close status code (RFC 6455 §7.4).
type StatusCode uint16

// Status codes defined by RFC 6455 §7.4.1 and registered with IANA.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatusRcvd is reported when a close frame had no code; it is
	// never sent.
	StatusNoStatusRcvd StatusCode = 1005
	// StatusAbnormalClosure is reported when the connection closed without
	// a close frame (a TCP FIN or reset, a timeout, a limit); it is never
	// sent.
	StatusAbnormalClosure    StatusCode = 1006
	StatusInvalidPayload     StatusCode = 1007
	StatusPolicyViolation    StatusCode = 1008
	StatusMessageTooBig      StatusCode = 1009
	StatusMandatoryExtension StatusCode = 1010
	StatusInternalError      StatusCode = 1011
	StatusServiceRestart     StatusCode = 1012
	StatusTryAgainLater      StatusCode = 1013
	StatusBadGateway         StatusCode = 1014
)

// Valid reports whether c may appear in a close frame: 1000-1003,
// 1007-1014 (1012-1014 were registered with IANA after RFC 6455), and the
// ranges 3000-3999 (registered) and 4000-4999 (private use). 1004-1006 and
// 1015 are reserved and never sent; a close frame carrying them, or any
// other code, is a protocol error (1002).
func (c StatusCode) Valid() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

func (c StatusCode) String() string {
	if s, ok := statusNames[c]; ok {
		return s
	}
	return strconv.Itoa(int(c))
}

var statusNames = map[StatusCode]string{
	StatusNormalClosure:      "1000 normal closure",
	StatusGoingAway:          "1001 going away",
	StatusProtocolError:      "1002 protocol error",
	StatusUnsupportedData:    "1003 unsupported data",
	StatusNoStatusRcvd:       "1005 no status",
	StatusAbnormalClosure:    "1006 abnormal closure",
	StatusInvalidPayload:     "1007 invalid payload",
	StatusPolicyViolation:    "1008 policy violation",
	StatusMessageTooBig:      "1009 message too big",
	StatusMandatoryExtension: "1010 mandatory extension",
	StatusInternalError:      "1011 internal error",
	StatusServiceRestart:     "1012 service restart",
	StatusTryAgainLater:      "1013 try again later",
	StatusBadGateway:         "1014 bad gateway",
}

// CloseError says how a connection ended. OnClose always receives one.
//
//   - The peer sent a close frame: Remote is true, Code and Reason are its.
//   - This side failed the connection (a protocol error, invalid UTF-8, a
//     message over the limit) or called Close: Remote is false, Code and
//     Reason are what was sent.
//   - The connection ended without a close frame: Code is
//     StatusAbnormalClosure and Err is the transport's reason (io.EOF for a
//     TCP FIN, engine.ErrIdleTimeout, engine.ErrOutboundFull, ...).
type CloseError struct {
	Code   StatusCode
	Reason string
	Remote bool  // the peer sent the close frame
	Err    error // the transport's reason, or what the handler's close was for; may be nil
}

func (e *CloseError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	s := fmt.Sprintf("websocket: closed (%s): %v", who, e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err, so errors.Is(err, io.EOF) and the like work.
func (e *CloseError) Unwrap() error { return e.Err }

// protoError is a reason to fail the connection: the close frame to send.
type protoError struct {
	code   StatusCode
	reason string
}

func (e *protoError) Error() string { return "websocket: " + e.code.String() + ": " + e.reason }

// The protocol errors msgReader reports, allocated once.
var (
	errUnmasked        = &protoError{StatusProtocolError, "client frame not masked"}
	errMasked          = &protoError{StatusProtocolError, "server frame masked"}
	errReservedBits    = &protoError{StatusProtocolError, "reserved bits set"}
	errReservedOpcode  = &protoError{StatusProtocolError, "reserved opcode"}
	errControlLong     = &protoError{StatusProtocolError, "control frame payload over 125 bytes"}
	errControlFrag     = &protoError{StatusProtocolError, "fragmented control frame"}
	errContinuation    = &protoError{StatusProtocolError, "continuation frame without a message"}
	errInterleaved     = &protoError{StatusProtocolError, "data frame inside a fragmented message"}
	errLength          = &protoError{StatusProtocolError, "64-bit length with the top bit set"}
	errCloseLen        = &protoError{StatusProtocolError, "close frame payload of 1 byte"}
	errCloseCode       = &protoError{StatusProtocolError, "invalid close code"}
	errCloseUTF8       = &protoError{StatusInvalidPayload, "close reason is not valid UTF-8"}
	errTextUTF8        = &protoError{StatusInvalidPayload, "text message is not valid UTF-8"}
	errFrameTooBig     = &protoError{StatusMessageTooBig, "frame over the size limit"}
	errMessageTooBig   = &protoError{StatusMessageTooBig, "message over the size limit"}
	errInflate         = &protoError{StatusInvalidPayload, "corrupt compressed message"}
	errCompressedCtl   = &protoError{StatusProtocolError, "compressed control frame"}
	errUnsupportedText = &protoError{StatusUnsupportedData, "text messages are not accepted"}
)
