package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/nats-io/nats.go"

	"wharf/internal/subject"
)

// Relay is a topic-based byte relay between the nodes of a cluster, for
// an application's own notices beside its channels (wharfd's chat: a
// logout on one node ends that session's packet logins on every node). It
// has the shape of channels.Relay and chat.Relay. Messages travel on
// <prefix>.relay.<topic>, at most once, to every other node; like the
// Broker, Publish fails at once while the NATS server is away.
type Relay struct{ n *Node }

// Relay returns the node's relay.
func (n *Node) Relay() Relay { return Relay{n} }

// Publish sends data to the subscribers of topic on every other node. It
// does not keep data.
func (r Relay) Publish(topic string, data []byte) error {
	n := r.n
	switch {
	case n.closed.Load():
		return ErrClosed
	case !n.connected.Load():
		return ErrNotConnected
	}
	b := make([]byte, 0, 9+len(data))
	b = append(b, wireVersion)
	b = binary.BigEndian.AppendUint64(b, n.inc)
	b = append(b, data...)
	if err := n.nc.Publish(n.subj.relay+subject.Token(topic), b); err != nil {
		return fmt.Errorf("cluster: relay %s: %w", topic, err)
	}
	return nil
}

// Subscribe calls fn, on a goroutine of nats.go's (one per topic), with
// the data of every message another node publishes on topic, until the
// node closes. fn may keep data.
func (r Relay) Subscribe(topic string, fn func(data []byte)) {
	n := r.n
	subj := n.subj.relay + subject.Token(topic)
	_, err := n.nc.Subscribe(subj, func(m *nats.Msg) {
		if len(m.Data) < 9 || m.Data[0] != wireVersion {
			n.ctr.malformed.Add(1)
			return
		}
		if binary.BigEndian.Uint64(m.Data[1:9]) == n.inc {
			return
		}
		fn(m.Data[9:])
	})
	if err != nil { // only on a closed connection or a bad subject, which Token rules out
		n.cfg.Logger.Warn("cluster: relay subscribe", "topic", topic, "err", err)
	}
}
