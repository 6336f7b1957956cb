package main

import "syscall"

// holdChildAttr: hold children share the console, so a Ctrl-C reaches them
// too; a child whose parent is gone ends when it reads EOF on its stdin.
func holdChildAttr() *syscall.SysProcAttr { return nil }
