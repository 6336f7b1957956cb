package pgtest

import "syscall"

// serverAttr runs the postmaster as cred's user.
func serverAttr(cred *credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		// If the test binary dies without stopping the server, the
		// kernel tells the postmaster with SIGQUIT: immediate shutdown.
		// Go sets this after switching credentials, which would clear it.
		Pdeathsig: syscall.SIGQUIT,
	}
}
