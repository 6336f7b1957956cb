package engine

import "time"

// Connection states as seen from other goroutines, shared by every backend.
const (
	connOpen    uint32 = iota
	connClosing        // Close was called or a graceful close began: no new writes
	connClosed
)

// closeTimeout is the longest a graceful close waits for the outbound
// backlog, on every backend.
const closeTimeout = 10 * time.Second
