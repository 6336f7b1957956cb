package poll

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PeerAddr returns the remote address of a connected socket (IPv4/IPv6
// only), for connections accepted without one (io_uring's multishot
// accept reports none).
func PeerAddr(fd int) netip.AddrPort {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return netip.AddrPort{}
	}
	return DecodeSockaddr(&rsa)
}
