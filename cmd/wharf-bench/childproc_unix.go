//go:build unix && !linux

package main

import "syscall"

// holdChildAttr gives a hold child its own process group, so a Ctrl-C
// reaches the parent only, which stops the children in order. There is no
// parent-death signal outside Linux: a child whose parent was killed ends
// when it reads EOF on its stdin.
func holdChildAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
