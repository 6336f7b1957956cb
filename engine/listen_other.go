//go:build !linux

package engine

import (
	"context"
	"net"
)

// listenReuse listens on address. reusePort is ignored: it serves the
// reactor's one socket per loop, and off Linux the engine runs on the
// goroutine backend with one socket per address (SO_REUSEPORT does not
// balance connections on the BSDs and macOS, and Windows has no such
// option).
func listenReuse(network, address string, _ bool) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), network, address)
}
