package engine

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"wharf/internal/reuseport"
)

// listenReuse listens on address; with reusePort (not for Unix sockets) it
// sets SO_REUSEPORT first, so that the reactor can open one socket per loop
// on the same address and the kernel spreads connections over them.
func listenReuse(network, address string, reusePort bool) (net.Listener, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = reuseport.Control
	}
	return lc.Listen(context.Background(), network, address)
}

// dupFd returns a non-blocking, close-on-exec duplicate of the descriptor
// of x (a net.Listener or net.Conn). The duplicate shares the socket, so
// closing x afterwards leaves it open.
func dupFd(x any) (int, error) {
	sc, ok := x.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("engine: %T has no file descriptor", x)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, &OpError{Op: "dup", Err: derr}
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, &OpError{Op: "set nonblock", Err: err}
	}
	return nfd, nil
}
