package loadgen

import (
	"errors"

	"wharf/engine"
)

// ShutdownNotice is the error text of the code 1 packet wharfd sends
// before it closes connections on shutdown: a connection that got it was
// not dropped but told (drop:server_shutdown).
const ShutdownNotice = "server shutting down"

// DropReason names why an engine connection closed (OnClose's err), for
// "drop:REASON" counts. notice says the server announced its shutdown
// first (ShutdownNotice).
func DropReason(err error, notice bool) string {
	switch engine.CloseReasonOf(err) {
	case engine.ReasonPeer:
		if notice {
			return "server_shutdown"
		}
		return "server_closed"
	case engine.ReasonDeadline:
		return "reply_timeout"
	case engine.ReasonIdle:
		return "idle"
	case engine.ReasonOutbound:
		return "outbound_full"
	case engine.ReasonInbound:
		return "inbound_full"
	case engine.ReasonPanic:
		return "panic"
	case engine.ReasonShutdown:
		return "shutdown"
	case engine.ReasonError:
		return Kind(err)
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return "protocol"
	}
	return Kind(err)
}
