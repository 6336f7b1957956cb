package channels

import "sync/atomic"

// Stats are a Hub's counts. Gauges (Channels to Members) describe this
// node now; the other fields count since NewHub.
type Stats struct {
	Channels      int64 `json:"channels"`      // channels with at least one subscriber here
	Clients       int64 `json:"clients"`       // connected Clients
	Users         int64 `json:"users"`         // distinct users among them
	Subscriptions int64 `json:"subscriptions"` // (client, channel) pairs
	Members       int64 `json:"members"`       // (channel, user) presence entries

	Publications uint64 `json:"publications"` // publications made through this Hub
	Directs      uint64 `json:"directs"`      // direct messages sent through this Hub
	Received     uint64 `json:"received"`     // messages received from other nodes
	Deliveries   uint64 `json:"deliveries"`   // messages (or recovery batches) subscribers accepted
	Drops        Drops  `json:"drops"`        // messages subscribers refused, by reason
	Joins        uint64 `json:"joins"`        // join events sent (a user's first connection in a channel; with a PresenceTracker, in the cluster)
	Leaves       uint64 `json:"leaves"`       // leave events sent
	Recovered    uint64 `json:"recovered"`    // subscriptions that recovered what they missed
	Resyncs      uint64 `json:"resyncs"`      // subscriptions that asked to recover and could not
	Denied       uint64 `json:"denied"`       // operations refused by the namespaces' rules

	BrokerErrors  uint64 `json:"broker_errors"`  // failed broker publishes (delivery stayed local)
	HistoryErrors uint64 `json:"history_errors"` // failed history appends, reads and expiries
	EncodeErrors  uint64 `json:"encode_errors"`  // messages the Encoder refused
}

// Drops counts refused deliveries by the error Deliver returned.
type Drops struct {
	Overloaded uint64 `json:"overloaded"` // ErrSubscriberOverloaded: a full send queue
	Closed     uint64 `json:"closed"`     // ErrSubscriberClosed: the connection had closed
	Failed     uint64 `json:"failed"`     // any other error
}

// Add adds o, another Hub's counts (another worker process's), into s:
// gauges and counters alike are summed, so the gauges of nodes that share
// channels count a channel once per node that has subscribers to it.
func (s *Stats) Add(o Stats) {
	s.Channels += o.Channels
	s.Clients += o.Clients
	s.Users += o.Users
	s.Subscriptions += o.Subscriptions
	s.Members += o.Members
	s.Publications += o.Publications
	s.Directs += o.Directs
	s.Received += o.Received
	s.Deliveries += o.Deliveries
	s.Drops.Overloaded += o.Drops.Overloaded
	s.Drops.Closed += o.Drops.Closed
	s.Drops.Failed += o.Drops.Failed
	s.Joins += o.Joins
	s.Leaves += o.Leaves
	s.Recovered += o.Recovered
	s.Resyncs += o.Resyncs
	s.Denied += o.Denied
	s.BrokerErrors += o.BrokerErrors
	s.HistoryErrors += o.HistoryErrors
	s.EncodeErrors += o.EncodeErrors
}

// counters are the Hub's atomic counters, updated once per operation (a
// fan-out adds its totals at the end, not per subscriber).
type counters struct {
	channels, clients, users, subscriptions, members atomic.Int64

	publications, directs, received, deliveries atomic.Uint64
	overloaded, closed, failed                  atomic.Uint64
	joins, leaves, recovered, resyncs, denied   atomic.Uint64
	brokerErrors, historyErrors, encodeErrors   atomic.Uint64
}

func (c *counters) add(d deliveries) {
	if d.ok > 0 {
		c.deliveries.Add(d.ok)
	}
	if d.overloaded > 0 {
		c.overloaded.Add(d.overloaded)
	}
	if d.closed > 0 {
		c.closed.Add(d.closed)
	}
	if d.failed > 0 {
		c.failed.Add(d.failed)
	}
}

// Stats returns the Hub's counts. Each is read atomically; together they
// are not one snapshot.
func (h *Hub) Stats() Stats {
	c := &h.ctr
	return Stats{
		Channels: c.channels.Load(), Clients: c.clients.Load(), Users: c.users.Load(),
		Subscriptions: c.subscriptions.Load(), Members: c.members.Load(),
		Publications: c.publications.Load(), Directs: c.directs.Load(), Received: c.received.Load(),
		Deliveries: c.deliveries.Load(),
		Drops:      Drops{Overloaded: c.overloaded.Load(), Closed: c.closed.Load(), Failed: c.failed.Load()},
		Joins:      c.joins.Load(), Leaves: c.leaves.Load(), Recovered: c.recovered.Load(), Resyncs: c.resyncs.Load(),
		Denied:       c.denied.Load(),
		BrokerErrors: c.brokerErrors.Load(), HistoryErrors: c.historyErrors.Load(), EncodeErrors: c.encodeErrors.Load(),
	}
}
