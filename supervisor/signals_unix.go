//go:build unix

package supervisor

import (
	"errors"
	"syscall"
)

// Signals the master and its workers act on besides TERM and INT, as nginx
// does: HUP reloads, QUIT drains, USR1 reopens logs, USR2 upgrades the
// binary.
const (
	sigReopen  = syscall.SIGUSR1
	sigUpgrade = syscall.SIGUSR2
)

// kill sends sig to pid.
func kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// processExists reports whether pid is a live process (perhaps another
// user's).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
