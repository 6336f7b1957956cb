package pgtest

import (
	"os"
	"syscall"
)

// credential is unused on Windows: the server runs as the current user.
type credential struct{}

// serverCredential returns nil: there is no root to step down from.
func serverCredential() (*credential, error) { return nil, nil }

// chownTo does nothing: the directory belongs to the current user.
func chownTo(string, *credential) error { return nil }

func toolAttr(*credential) *syscall.SysProcAttr   { return nil }
func serverAttr(*credential) *syscall.SysProcAttr { return nil }

// interrupt stops the postmaster: Windows has no SIGINT to send another
// process, so this is an immediate shutdown (the data is throwaway).
func interrupt(p *os.Process) error { return p.Kill() }
