//go:build unix && !linux

package pgtest

import "syscall"

// serverAttr runs the postmaster as cred's user. Without Linux's parent
// death signal, a server whose test binary was killed keeps running until
// it is stopped by hand.
func serverAttr(cred *credential) *syscall.SysProcAttr {
	return toolAttr(cred)
}
