package supervisor

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortBalances: Linux spreads the connections of a TCP address, and
// the peers of a UDP one (by hash, so each stays on one socket), over the
// sockets bound to it with SO_REUSEPORT, so every worker slot gets its own.
const reusePortBalances = true

// reusePortConfig sets SO_REUSEPORT on TCP and UDP sockets.
func reusePortConfig() net.ListenConfig {
	return net.ListenConfig{Control: func(network, _ string, c syscall.RawConn) error {
		if network == "unix" {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
}
