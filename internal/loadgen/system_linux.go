package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// RSS returns the resident set size of this process in bytes (VmRSS in
// /proc/self/status).
func RSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("loadgen: rss: %w", err)
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				break
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("loadgen: rss: no VmRSS line in /proc/self/status")
}

// RaiseFileLimit raises this process's soft RLIMIT_NOFILE to its hard limit
// and returns the resulting soft and hard limits. Raising the hard limit
// needs privileges this program does not ask for: the hard limit is the
// budget.
func RaiseFileLimit() (soft, hard uint64, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("loadgen: getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err == nil {
			rl = want
		}
	}
	return rl.Cur, rl.Max, nil
}

// BindNoPort is a dialer Control function (net.Dialer.Control,
// engine.DialOptions.Control) that sets IP_BIND_ADDRESS_NO_PORT on the
// socket before it is bound. Without it, binding a source address with port
// 0 reserves an ephemeral port for that address alone, so each source
// address runs out after the ~28,000 ports of ip_local_port_range whatever
// the target; with it the port is chosen at connect time, unique per
// (source, target) pair, and every target address or port adds another
// range. It is harmless when no source address is bound, and it is skipped
// for Unix sockets.
func BindNoPort(network, address string, c syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("loadgen: setsockopt IP_BIND_ADDRESS_NO_PORT: %w", serr)
	}
	return nil
}

// IsTerminal reports whether f is a terminal (so a live progress line makes
// sense on it).
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
