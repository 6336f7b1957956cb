//go:build unix

package engine

import "syscall"

// setRecvBuffer sets SO_RCVBUF on a raw socket (tests only).
func setRecvBuffer(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
