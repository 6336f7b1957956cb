package channels

import "sync/atomic"

// Stats are a Hub's counts. Gauges (Channels to Members) describe this
// node now; the other fields count since NewHub.
type Stats struct {
	Channels      int64 // channels with at least one subscriber here
	Clients       int64 // connected Clients
	Users         int64 // distinct users among them
	Subscriptions int64 // (client, channel) pairs
	Members       int64 // (channel, user) presence entries

	Publications uint64 // publications made through this Hub
	Directs      uint64 // direct messages sent through this Hub
	Received     uint64 // messages received from other nodes
	Deliveries   uint64 // messages (or recovery batches) subscribers accepted
	Drops        Drops  // messages subscribers refused, by reason
	Joins        uint64 // join events sent (a user's first connection in a channel; with a PresenceTracker, in the cluster)
	Leaves       uint64 // leave events sent
	Recovered    uint64 // subscriptions that recovered what they missed
	Resyncs      uint64 // subscriptions that asked to recover and could not
	Denied       uint64 // operations refused by the namespaces' rules

	BrokerErrors  uint64 // failed broker publishes (delivery stayed local)
	HistoryErrors uint64 // failed history appends, reads and expiries
	EncodeErrors  uint64 // messages the Encoder refused
}

// Drops counts refused deliveries by the error Deliver returned.
type Drops struct {
	Overloaded uint64 // ErrSubscriberOverloaded: a full send queue
	Closed     uint64 // ErrSubscriberClosed: the connection had closed
	Failed     uint64 // any other error
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
