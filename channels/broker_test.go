package channels

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// relayBus is an in-process Relay between simulated processes, delivering
// synchronously like supervisor.Hub's in-process worker.
type relayBus struct {
	mu    sync.Mutex // guards nodes
	nodes []*relayNode
}

type relayNode struct {
	bus  *relayBus
	mu   sync.Mutex // guards subs and fail
	subs map[string][]func([]byte)
	fail error // what Publish returns, to simulate an outage
}

func (b *relayBus) node() *relayNode {
	n := &relayNode{bus: b, subs: map[string][]func([]byte){}}
	b.mu.Lock()
	b.nodes = append(b.nodes, n)
	b.mu.Unlock()
	return n
}

func (n *relayNode) Publish(topic string, data []byte) error {
	n.mu.Lock()
	err := n.fail
	n.mu.Unlock()
	if err != nil {
		return err
	}
	n.bus.mu.Lock()
	nodes := slices.Clone(n.bus.nodes)
	n.bus.mu.Unlock()
	for _, o := range nodes {
		if o == n {
			continue
		}
		o.mu.Lock()
		fns := slices.Clone(o.subs[topic])
		o.mu.Unlock()
		for _, fn := range fns {
			fn(slices.Clone(data))
		}
	}
	return nil
}

func (n *relayNode) Subscribe(topic string, fn func([]byte)) {
	n.mu.Lock()
	n.subs[topic] = append(n.subs[topic], fn)
	n.mu.Unlock()
}

func (n *relayNode) setFail(err error) {
	n.mu.Lock()
	n.fail = err
	n.mu.Unlock()
}

// TestTwoNodes runs two Hubs as two processes: over a relay, sharing one
// SQLite history as wharfd's workers do.
func TestTwoNodes(t *testing.T) {
	ctx := t.Context()
	open := historyBackends[1].database(t) // sqlite
	bus := &relayBus{}
	ra, rb := bus.node(), bus.node()
	ba, bb := NewRelayBroker(ra, "channels"), NewRelayBroker(rb, "channels")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := newTestHub(t, Config{History: open(), Broker: ba, Logger: quiet})
	b := newTestHub(t, Config{History: open(), Broker: bb, Logger: quiet})
	room := mustName(t, "room:lobby")

	onA, onB := newSink(1, "1"), newSink(2, "2")
	ca, cb := a.Connect(onA), b.Connect(onB)
	defer ca.Close()
	cb.Subscribe(ctx, room, SubscribeOptions{JoinLeave: true})
	ca.Subscribe(ctx, room, SubscribeOptions{})
	if got := events(onB.take(t)); !slices.Equal(got, []string{"join 2", "join 1"}) {
		t.Fatalf("B saw %v", got)
	}

	// A publication on either node reaches both, with offsets allocated
	// by the shared database.
	r1, err := ca.Publish(ctx, room, []byte(`"from a"`))
	if err != nil || r1.Delivered != 1 {
		t.Fatalf("Publish on A = %+v, %v", r1, err)
	}
	r2, _ := cb.Publish(ctx, room, []byte(`"from b"`))
	for _, s := range []*sink{onA, onB} {
		got := s.take(t)
		if !slices.Equal(offsets(got), []uint64{1, 2}) || got[0].Epoch != r1.Position.Epoch || got[1].Position() != r2.Position {
			t.Fatalf("sink %d got %+v", s.id, got)
		}
	}
	// A direct message crosses nodes.
	if n, err := a.SendToUser("2", []byte(`"dm"`)); err != nil || n != 0 {
		t.Fatalf("SendToUser on A = %d, %v", n, err)
	}
	if got := onB.take(t); len(got) != 1 || got[0].Kind != KindDirect || string(got[0].Data) != `"dm"` {
		t.Fatalf("B got %+v", got)
	}
	if st := b.Stats(); st.Received != 3 || st.Publications != 1 {
		t.Fatalf("B stats = %+v", st)
	}

	// The broker fails: A delivers locally, counts it, and B recovers the
	// gap from history when it resubscribes.
	ra.setFail(errors.New("relay down"))
	ca.Publish(ctx, room, []byte(`"lost"`)) // offset 3
	if got := offsets(onA.take(t)); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("A's own subscriber got %v", got)
	}
	if got := onB.take(t); len(got) != 0 {
		t.Fatalf("B got %v through a failed broker", got)
	}
	if st := a.Stats(); st.BrokerErrors != 1 {
		t.Fatalf("A stats = %+v", st)
	}
	ra.setFail(nil)
	ca.Publish(ctx, room, []byte(`"back"`)) // offset 4: B sees the gap
	if got := offsets(onB.take(t)); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("B got %v", got)
	}
	cb.Unsubscribe(room)
	res, err := cb.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: r2.Position})
	if err != nil || !res.Recovered || !slices.Equal(datas(onB.take(t)), []string{`"lost"`, `"back"`}) {
		t.Fatalf("recovery on B: %+v, %v", res, err)
	}
	cb.Close()

	// Garbage on the topic is counted and dropped.
	rb.Publish("channels", []byte("garbage"))
	if ba.Malformed() != 1 {
		t.Fatalf("Malformed = %d", ba.Malformed())
	}
}
