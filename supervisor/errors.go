package supervisor

import (
	"errors"
	"fmt"
)

var (
	// ErrRunning is returned when another master holds the pid file.
	ErrRunning = errors.New("supervisor: already running")
	// ErrNotRunning is returned by Signal when no master runs for the pid file.
	ErrNotRunning = errors.New("supervisor: not running")
	// ErrNotWorker is returned by RunWorker outside a worker process.
	ErrNotWorker = errors.New("supervisor: not started by a wharf master")
	// ErrReloadFailed is logged when a new generation could not start; the
	// old one keeps serving.
	ErrReloadFailed = errors.New("supervisor: new workers failed to start")
	// ErrControlClosed is returned by hub calls once the master is gone.
	ErrControlClosed = errors.New("supervisor: control channel closed")

	// errNoNewStats is the totals error of a master without
	// Config.NewStats (it travels as text to the worker).
	errNoNewStats = errors.New("the master has no Config.NewStats to decode worker stats with")
)

// AddrInUseError refuses a cold start whose listen address another program
// already holds (another wharfd, typically): with SO_REUSEPORT the bind
// would succeed and the kernel would split the traffic between the two.
// Reloads, upgrades and respawns keep their sockets and never see it.
type AddrInUseError struct {
	Network string // "tcp", "udp", ...
	Address string // as in the configuration: ":7000"
}

func (e *AddrInUseError) Error() string {
	return fmt.Sprintf("%s %s: address already in use", e.Network, e.Address)
}
