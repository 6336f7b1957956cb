// Package reuseport sets SO_REUSEPORT on the sockets a net.ListenConfig
// opens, so that several sockets (an engine's loops, a master's worker
// slots) share one TCP or UDP address and the kernel spreads connections
// over them. The engine and the supervisor both use it.
package reuseport

import "syscall"

// Control is a net.ListenConfig.Control that sets SO_REUSEPORT on TCP and
// UDP sockets and leaves Unix sockets alone. Off Linux it sets nothing
// (see Balances).
func Control(network, _ string, c syscall.RawConn) error {
	if network == "unix" || network == "unixgram" || network == "unixpacket" {
		return nil
	}
	var serr error
	if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
		return err
	}
	return serr
}
