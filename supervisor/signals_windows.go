package supervisor

import (
	"fmt"
	"os"
	"syscall"
)

// Windows delivers a Go program only os.Interrupt (Ctrl-C, Ctrl-Break) and
// SIGTERM (console close, logoff, shutdown), and has no USR1 and USR2:
// these two keep numbers no console event maps to (the BSD numbers of USR1
// and USR2), so the master and worker loops compile and never see them.
// Logs are reopened and binaries upgraded by restarting instead.
const (
	sigReopen  = syscall.Signal(30)
	sigUpgrade = syscall.Signal(31)
)

// kill cannot send a signal on Windows: `-s` needs POSIX signals.
func kill(pid int, sig syscall.Signal) error {
	return fmt.Errorf("supervisor: sending %v to pid %d needs POSIX signals, not available on windows", sig, pid)
}

// processExists reports whether pid is a live process.
func processExists(pid int) bool {
	p, err := os.FindProcess(pid) // opens a handle: fails for no such process
	if err != nil {
		return false
	}
	p.Release()
	return true
}
