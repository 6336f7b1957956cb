//go:build !linux

package loadgen

import "syscall"

// childProcAttr is nil off Linux, where hold does not run (RaiseFileLimit
// is unsupported, so procs and every child fail first).
func childProcAttr() *syscall.SysProcAttr { return nil }
