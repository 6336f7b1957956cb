package channels

import (
	"sync"
	"sync/atomic"
)

// Broker carries messages between the nodes (processes) that serve the
// same channels: wharfd's worker processes, or wharfd nodes in a cluster.
//
// The Hub delivers to its own connections first and then hands the message
// to its Broker, which must bring it to every other node's Hub (through
// their Receive). Delivery is at most once: a message the broker loses is
// not retried, and clients of a namespace with history find the gap by its
// offsets and recover it from history (which every node shares: the
// SQLHistory). So the Broker needs no history of its own, and when it is
// down, publishing degrades to this node's connections (counted in
// Stats.BrokerErrors and logged once per outage).
//
// A Broker must keep the order of the messages one node publishes on one
// channel (the Hub publishes them in offset order), and must not block:
// Publish queues, or fails. Publish must not keep m after returning (copy
// or encode it: AppendBinary). The Hub calls Publish with the channel's
// publish lock held, but never with a channel's or an index's lock held,
// so a Broker may deliver to another Hub of the same process synchronously.
type Broker interface {
	// Bind tells the broker where to deliver the messages of other nodes.
	// NewHub calls it once, before any Publish.
	Bind(r Receiver)
	// Publish sends m to every other node.
	Publish(m *Message) error
}

// Receiver takes messages from other nodes. Hub implements it.
type Receiver interface {
	// Receive delivers m to this node's connections. It must not keep m.
	Receive(m *Message)
}

// Relay is a topic-based byte relay between processes: supervisor.Hub,
// which connects wharfd's workers through their master, implements it.
type Relay interface {
	// Publish sends data to the subscribers of topic in every other
	// process.
	Publish(topic string, data []byte) error
	// Subscribe calls fn with the data of every message another process
	// publishes on topic.
	Subscribe(topic string, fn func(data []byte))
}

// RelayBroker is a Broker over a Relay: the in-process broker of wharfd's
// worker processes. Messages travel in their binary form (AppendBinary) on
// one topic. With a single process the relay has no one to send to, and
// the Hub's local delivery is all there is.
//
// Publish calls the relay on the publisher's goroutine. supervisor.Hub
// writes the message to the master's control socket there, which returns
// at once while the master keeps reading; a master that stops reading
// would stall publishers on that channel's publish lock. A NATS broker
// buffers instead.
type RelayBroker struct {
	relay Relay
	topic string

	once sync.Once
	bad  atomic.Uint64 // messages received that did not decode
}

var _ Broker = (*RelayBroker)(nil)

// NewRelayBroker returns a Broker that sends messages over r on topic.
func NewRelayBroker(r Relay, topic string) *RelayBroker {
	return &RelayBroker{relay: r, topic: topic}
}

// Bind implements Broker: it subscribes to the topic (once).
func (b *RelayBroker) Bind(r Receiver) {
	b.once.Do(func() {
		b.relay.Subscribe(b.topic, func(data []byte) {
			var m Message
			if err := m.UnmarshalBinary(data); err != nil {
				b.bad.Add(1)
				return
			}
			r.Receive(&m)
		})
	})
}

// Publish implements Broker.
func (b *RelayBroker) Publish(m *Message) error {
	data, _ := m.AppendBinary(make([]byte, 0, len(m.Data)+len(m.Channel)+len(m.User)+len(m.From)+len(m.Epoch)+32))
	return b.relay.Publish(b.topic, data)
}

// Malformed reports how many received messages did not decode (a node of
// an incompatible version on the topic, say); they were dropped.
func (b *RelayBroker) Malformed() uint64 { return b.bad.Load() }
