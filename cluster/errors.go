package cluster

import (
	"errors"
	"fmt"
)

// Errors a Node's Publish returns (the Hub counts them as broker errors
// and delivers to its own connections only), and what it counts.
var (
	// ErrNotConnected refuses a message while the node is not connected
	// to the NATS server (an outage, or the first connection not made
	// yet). nats.go keeps reconnecting.
	ErrNotConnected = errors.New("cluster: not connected to the NATS server")
	// ErrQueueFull refuses a message when Config.SendQueue messages are
	// already waiting to be written to the NATS connection.
	ErrQueueFull = errors.New("cluster: send queue full")
	// ErrClosed refuses a message after Close.
	ErrClosed = errors.New("cluster: node closed")
	// ErrMalformed is a message from the broker that does not decode (a
	// node of an incompatible version); it is counted (Stats.Malformed)
	// and dropped.
	ErrMalformed = errors.New("cluster: malformed message")
)

// ConfigError names the Config field that failed validation.
type ConfigError struct {
	Field  string // e.g. "NodeName"
	Reason string
}

func (e *ConfigError) Error() string { return "cluster: Config." + e.Field + ": " + e.Reason }

func configError(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
