package reuseport

import "golang.org/x/sys/unix"

// Balances reports whether the kernel spreads the connections of an
// address over its SO_REUSEPORT sockets (and, for UDP, keeps each peer on
// one socket): on Linux it does.
const Balances = true

func setReusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
