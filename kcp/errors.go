package kcp

import "errors"

var (
	// ErrBadMode is returned (wrapped) by ParseMode for an unknown mode.
	ErrBadMode = errors.New("kcp: unknown mode")
	// ErrBadAddr is returned (wrapped) by Listen and Dial for an address
	// they cannot parse or whose scheme is not udp, udp4 or udp6.
	ErrBadAddr = errors.New("kcp: bad address")
	// ErrTransportClosed is returned by Listen and Serve's transport methods
	// after Shutdown.
	ErrTransportClosed = errors.New("kcp: transport closed")
	// ErrSessionReplaced closes (wrapped in an engine.OpError) a session
	// whose remote address opened a new conversation (kcp-go resets a
	// session on a segment with a new conv and sn 0; the gate lets that
	// through only with encryption on, see the package documentation).
	ErrSessionReplaced = errors.New("kcp: session replaced by a new conversation from the same address")
)
