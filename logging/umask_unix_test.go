//go:build unix

package logging

import "syscall"

// syscallUmask sets the umask and returns a function that restores it, so
// a test sees the modes the code asks for.
func syscallUmask(m int) func() {
	old := syscall.Umask(m)
	return func() { syscall.Umask(old) }
}
