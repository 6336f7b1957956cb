package poll

import (
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept accepts one connection from a non-blocking listening socket. The new
// descriptor is non-blocking and close-on-exec. The peer address is decoded in
// place (no allocation); it is the zero AddrPort for Unix sockets.
func Accept(fd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	nfd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(nfd), DecodeSockaddr(&rsa), nil
}

// DecodeSockaddr turns an IPv4 or IPv6 raw address into an AddrPort.
func DecodeSockaddr(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// LocalAddr returns the local address of a socket (IPv4/IPv6 only).
func LocalAddr(fd int) netip.AddrPort { return sockname(unix.SYS_GETSOCKNAME, fd) }

// PeerAddr returns the remote address of a connected socket (IPv4/IPv6
// only), for connections accepted without one (io_uring's multishot accept
// reports none).
func PeerAddr(fd int) netip.AddrPort { return sockname(unix.SYS_GETPEERNAME, fd) }

// sockname is getsockname or getpeername (trap), decoded.
func sockname(trap uintptr, fd int) netip.AddrPort {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return netip.AddrPort{}
	}
	return DecodeSockaddr(&rsa)
}

// SetNoDelay sets or clears TCP_NODELAY.
func SetNoDelay(fd int, on bool) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(on))
}

// SetKeepAlive enables TCP keepalive with the given idle time and probe
// interval (d), or disables it when d <= 0.
func SetKeepAlive(fd int, d time.Duration) error {
	if d <= 0 {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	secs := max(int(d/time.Second), 1)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}

// SetLinger sets SO_LINGER: sec < 0 restores the default (graceful close in
// the background), 0 makes close send RST and drop unsent data.
func SetLinger(fd int, sec int) error {
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff = 1
		l.Linger = int32(sec)
	}
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l)
}

// SetRecvBuffer sets SO_RCVBUF.
func SetRecvBuffer(fd, n int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
}

// SetSendBuffer sets SO_SNDBUF.
func SetSendBuffer(fd, n int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, n)
}

// SocketError returns the pending SO_ERROR of fd (nil when there is none).
func SocketError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// Close closes fd.
func Close(fd int) error { return unix.Close(fd) }

// Shutdown shuts down the write side of a socket (sends FIN).
func ShutdownWrite(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
