package cluster

import (
	"sync/atomic"

	"wharf/server"
)

// Stats are a Node's counts. Connected and Nodes are gauges; the other
// fields count since New. Its JSON form uses the tags below (for
// /api/stats, and between wharfd's worker processes); Add sums the Stats
// of several nodes (a wharfd master's workers are a node each).
type Stats struct {
	Connected   int64                    `json:"connected"`      // 1 while connected to the NATS server (summed: the nodes connected)
	Nodes       int64                    `json:"nodes"`          // nodes alive as this node sees them, itself included
	Published   uint64                   `json:"published"`      // messages written to the NATS connection
	Received    uint64                   `json:"received"`       // messages from other nodes handed to the Hub
	Refused     uint64                   `json:"refused"`        // messages not sent: not connected, send queue full, or the write failed (delivered on this node only)
	Dropped     uint64                   `json:"dropped"`        // messages from other nodes dropped here: a slow consumer (PendingLimit)
	Malformed   uint64                   `json:"malformed"`      // messages that did not decode
	Reconnects  uint64                   `json:"reconnects"`     // connections to the NATS server made again after a loss
	Disconnects uint64                   `json:"disconnects"`    // connections to the NATS server lost
	NodesLost   uint64                   `json:"nodes_lost"`     // nodes dropped for silence (DeadAfter without a heartbeat)
	Syncs       uint64                   `json:"presence_syncs"` // presence snapshots asked of other nodes
	Lag         server.HistogramSnapshot `json:"lag"`            // from publication on another node to receipt here
}

// Add adds o, another node's Stats, into s: every field is summed but
// Nodes, which takes the larger (the nodes of one cluster see each other).
func (s *Stats) Add(o Stats) {
	s.Connected += o.Connected
	s.Nodes = max(s.Nodes, o.Nodes)
	s.Published += o.Published
	s.Received += o.Received
	s.Refused += o.Refused
	s.Dropped += o.Dropped
	s.Malformed += o.Malformed
	s.Reconnects += o.Reconnects
	s.Disconnects += o.Disconnects
	s.NodesLost += o.NodesLost
	s.Syncs += o.Syncs
	s.Lag.Add(o.Lag)
}

// counters are a Node's atomic counters.
type counters struct {
	published, received, refused, malformed atomic.Uint64
	reconnects, disconnects                 atomic.Uint64
}
