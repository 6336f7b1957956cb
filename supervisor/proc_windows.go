package supervisor

import (
	"errors"
	"os"
	"syscall"
)

// controlPair fails: a worker process inherits its sockets and control
// channel as descriptors, which Windows cannot pass to a child
// (exec.Cmd.ExtraFiles).
func controlPair() (mine, theirs *os.File, err error) {
	return nil, nil, errors.New("supervisor: processes > 0 needs worker processes that inherit sockets, not available on windows (use processes = 0)")
}

func workerAttr() *syscall.SysProcAttr { return nil }

// daemonAttr fails: the daemon reports readiness on an inherited
// descriptor, and Windows runs services through its service manager.
func daemonAttr() (*syscall.SysProcAttr, error) {
	return nil, errors.New("supervisor: daemon mode needs setsid and inherited descriptors, not available on windows")
}
