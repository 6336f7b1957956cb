package loadgen

import "syscall"

// childProcAttr is how a hold child is started: it never outlives the
// parent, and Ctrl-C reaches the parent only, which stops the children in
// order.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL, // never outlive the parent
		Setpgid:   true,            // Ctrl-C reaches the parent only; it stops the children in order
	}
}
