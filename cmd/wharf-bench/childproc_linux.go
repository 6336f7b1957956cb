package main

import "syscall"

// holdChildAttr: a hold child never outlives the parent (the kernel kills
// it when the parent dies), and has its own process group, so a Ctrl-C
// reaches the parent only, which stops the children in order.
func holdChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
