//go:build unix

package supervisor

import (
	"fmt"
	"os"
	"syscall"
)

// controlPair returns the two ends of a worker's control channel, a Unix
// socketpair: the master keeps mine, the worker inherits theirs.
func controlPair() (mine, theirs *os.File, err error) {
	syscall.ForkLock.RLock() // no fork between socketpair and CloseOnExec
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("supervisor: control socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control"), nil
}

// workerAttr gives a worker process its own process group: a Ctrl-C at the
// terminal goes to the master, which decides how workers stop.
func workerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// daemonAttr starts the daemon's copy in a new session, detached from the
// terminal.
func daemonAttr() (*syscall.SysProcAttr, error) { return &syscall.SysProcAttr{Setsid: true}, nil }
