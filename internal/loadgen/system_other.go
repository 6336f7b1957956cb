//go:build !linux

package loadgen

import (
	"os"
	"syscall"
)

// RSS is not available off Linux: it reports ErrUnsupported.
func RSS() (int64, error) { return 0, ErrUnsupported }

// RaiseFileLimit is not available off Linux: it reports ErrUnsupported.
func RaiseFileLimit() (soft, hard uint64, err error) { return 0, 0, ErrUnsupported }

// BindNoPort does nothing off Linux.
func BindNoPort(network, address string, c syscall.RawConn) error { return nil }

// IsTerminal reports false off Linux: no progress line is drawn.
func IsTerminal(f *os.File) bool { return false }
