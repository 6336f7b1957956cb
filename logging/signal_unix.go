//go:build unix

package logging

import (
	"os"
	"syscall"
)

// redeliver sends sig to the process again; CloseOnSignal has withdrawn its
// interest, so the signal's default action (usually death) applies.
func redeliver(sig os.Signal) {
	if s, ok := sig.(syscall.Signal); ok {
		syscall.Kill(os.Getpid(), s)
	}
}
