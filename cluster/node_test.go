package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"wharf/channels"
	"wharf/internal/natstest"
	"wharf/internal/statstest"
	"wharf/internal/testkit"
)

// abandon stops m's node as kill -9 would: no goodbye, the connection
// just goes.
func (m *member) abandon() {
	m.node.close.Do(func() {
		m.node.stop()
		m.node.nc.Close()
	})
}

func TestPublicationsCross(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 3)
	var sinks []*sink
	for i, m := range ms {
		s := newSink(uint64(i), fmt.Sprint(i))
		connect(t, m.hub, s, "general", channels.SubscribeOptions{})
		sinks = append(sinks, s)
	}
	for i, m := range ms {
		data := fmt.Sprintf(`"from %d"`, i)
		res, err := m.hub.Publish(t.Context(), mustName(t, "general"), []byte(data))
		if err != nil || res.Delivered != 1 {
			t.Fatalf("Publish on %d = %+v, %v", i, res, err)
		}
		for j, s := range sinks {
			if got := s.nextData(t); got != data {
				t.Fatalf("sink on node %d got %s, want %s", j, got, data)
			}
		}
	}
	// A channel name with '.' (escaped in the subject) crosses too.
	dotted := mustName(t, "a.b")
	other := newSink(9, "9")
	connect(t, ms[1].hub, other, "a.b", channels.SubscribeOptions{})
	if _, err := ms[0].hub.Publish(t.Context(), dotted, []byte(`"dot"`)); err != nil {
		t.Fatal(err)
	}
	if got := other.next(t); got.Channel != "a.b" || string(got.Data) != `"dot"` {
		t.Fatalf("got %+v", got)
	}
	// No node got its own messages back. Each receives one from each
	// other node, and a's dotted one (every node hears every publication:
	// SPEC.md, no interest routing); once it has, a round trip to the
	// server shows nothing more queued for it (an echo would be).
	for i, m := range ms {
		want := uint64(2 + boolInt(i != 0))
		testkit.Eventually(t, fmt.Sprintf("node %d to receive %d", i, want), func() bool { return m.node.Stats().Received >= want })
		if err := m.node.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if p, _, _ := m.node.subs[0].Pending(); p != 0 {
			t.Fatalf("node %d has %d messages pending", i, p)
		}
		st := m.node.Stats()
		if st.Received != want || st.Published != uint64(1+boolInt(i == 0)) || st.Lag.Count != want {
			t.Fatalf("node %d: %+v, want %d received", i, st, want)
		}
		if st.Connected != 1 || st.Nodes != 3 || st.Refused != 0 || st.Malformed != 0 {
			t.Fatalf("node %d: %+v", i, st)
		}
	}
	for _, s := range sinks {
		if !s.empty() {
			t.Fatalf("sink %d got more: %+v", s.id, s.next(t))
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDirectMessagesCross(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 3)
	// User 7 has a connection on b and two on c.
	tabs := []*sink{newSink(1, "7"), newSink(2, "7"), newSink(3, "7")}
	ms[1].hub.Connect(tabs[0])
	ms[2].hub.Connect(tabs[1])
	ms[2].hub.Connect(tabs[2])
	n, err := ms[0].hub.SendToUser("7", []byte(`"psst"`))
	if err != nil || n != 0 {
		t.Fatalf("SendToUser on a = %d, %v", n, err)
	}
	for _, s := range tabs {
		if m := s.next(t); m.Kind != channels.KindDirect || m.User != "7" || string(m.Data) != `"psst"` {
			t.Fatalf("tab %d got %+v", s.id, m)
		}
	}
	// From a client on c: its own node delivers to the local tab (and
	// the sender's), b's tab through the broker.
	sender := ms[2].hub.Connect(newSink(4, "8"))
	defer sender.Close()
	if n, err := sender.SendToUser("7", []byte(`"hi"`)); err != nil || n != 2 {
		t.Fatalf("Client.SendToUser on c = %d, %v", n, err)
	}
	for _, s := range tabs {
		if m := s.next(t); m.From != "8" || string(m.Data) != `"hi"` {
			t.Fatalf("tab %d got %+v", s.id, m)
		}
	}
}

func TestPresenceConverges(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 3)
	a, b, c := ms[0], ms[1], ms[2]
	watcher := newSink(1, "1")
	connect(t, a.hub, watcher, "room:lobby", channels.SubscribeOptions{JoinLeave: true})
	if got := watcher.nextEvent(t); got != "join 1" {
		t.Fatalf("watcher's own join: %s", got)
	}
	// User 2 on b, then on c too: one join for the cluster.
	onB := connect(t, b.hub, newSink(2, "2"), "room:lobby", channels.SubscribeOptions{})
	onC := connect(t, c.hub, newSink(3, "2"), "room:lobby", channels.SubscribeOptions{})
	waitMembers(t, ms, "room:lobby", "1x1 2x2")
	if got := watcher.nextEvent(t); got != "join 2" {
		t.Fatalf("event = %s", got)
	}
	// Events from one node leave in order, after everything before them:
	// user 3 joining on b is the watcher's next event only if c's
	// announcement of user 2 (already in presence) sent none.
	connect(t, b.hub, newSink(4, "3"), "room:lobby", channels.SubscribeOptions{})
	if got := watcher.nextEvent(t); got != "join 3" {
		t.Fatalf("event = %s, want join 3 (a second join 2?)", got)
	}
	// User 2 leaves b but stays on c: no event; then leaves c.
	onB.Close()
	waitMembers(t, ms, "room:lobby", "1x1 2x1 3x1")
	onC.Close()
	if got := watcher.nextEvent(t); got != "leave 2" {
		t.Fatalf("event = %s", got)
	}
	waitMembers(t, ms, "room:lobby", "1x1 3x1")
	// A node's own table stays its own.
	if got := c.hub.LocalMembers(mustName(t, "room:lobby")); len(got) != 0 {
		t.Fatalf("c's local members = %v", got)
	}
}

// TestLateNodeLearnsPresence: a node that joins a running cluster gets
// everybody's presence through snapshots.
func TestLateNodeLearnsPresence(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 2)
	for i, m := range ms {
		for u := range 50 {
			connect(t, m.hub, newSink(uint64(u), fmt.Sprint(i*100+u)), "room:big", channels.SubscribeOptions{})
		}
	}
	late := join(t, ns.URL(), "late", nil, Config{})
	ms = append(ms, late)
	waitNodes(t, ms, 3)
	testkit.Eventually(t, "the late node to see 100 members", func() bool {
		got, _ := late.hub.Presence(t.Context(), mustName(t, "room:big"))
		return len(got) == 100
	})
	if st := late.node.Stats(); st.Syncs < 2 {
		t.Fatalf("late node asked %d snapshots, want one per node at least", st.Syncs)
	}
}

// TestKilledNodeLeavesPresence: a node killed without a goodbye drops out
// of presence within its DeadAfter plus a heartbeat, with leave events.
func TestKilledNodeLeavesPresence(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 3)
	watcher := newSink(1, "1")
	connect(t, ms[0].hub, watcher, "room:lobby", channels.SubscribeOptions{JoinLeave: true})
	connect(t, ms[1].hub, newSink(2, "2"), "room:lobby", channels.SubscribeOptions{})
	connect(t, ms[2].hub, newSink(3, "3"), "room:lobby", channels.SubscribeOptions{})
	waitMembers(t, ms, "room:lobby", "1x1 2x1 3x1")
	for range 3 {
		watcher.nextEvent(t) // joins 1, 2, 3 (in some order)
	}
	killed := time.Now()
	ms[2].abandon()
	if got := watcher.nextEvent(t); got != "leave 3" {
		t.Fatalf("event = %s", got)
	}
	took := time.Since(killed)
	waitMembers(t, ms[:2], "room:lobby", "1x1 2x1")
	// The bound is DeadAfter plus one heartbeat (the check's period);
	// allow as much again for a loaded machine, no more.
	if bound := testDeadAfter + testHeartbeat; took > 2*bound {
		t.Fatalf("the dead node's presence went after %v, bound %v", took, bound)
	}
	if took < testDeadAfter {
		t.Fatalf("the dead node's presence went after %v, before DeadAfter %v", took, testDeadAfter)
	}
	for _, m := range ms[:2] {
		if st := m.node.Stats(); st.NodesLost != 1 || st.Nodes != 2 {
			t.Fatalf("%s: %+v", m.node.Name(), st)
		}
		if m.logs.count("presumed dead") != 1 {
			t.Fatalf("%s did not log the loss", m.node.Name())
		}
	}
}

// TestCloseSaysGoodbye: a node closed cleanly leaves presence at once,
// long before its DeadAfter.
func TestCloseSaysGoodbye(t *testing.T) {
	ns := natstest.Start(t)
	slow := Config{Heartbeat: time.Second, DeadAfter: time.Minute}
	a := join(t, ns.URL(), "a", nil, slow)
	b := join(t, ns.URL(), "b", nil, slow)
	ms := []*member{a, b}
	waitNodes(t, ms, 2)
	connect(t, b.hub, newSink(2, "2"), "room:lobby", channels.SubscribeOptions{})
	waitMembers(t, ms, "room:lobby", "2x1")
	b.node.Close()
	waitMembers(t, ms[:1], "room:lobby", "")
	if st := a.node.Stats(); st.Nodes != 1 || st.NodesLost != 0 {
		t.Fatalf("a: %+v", st)
	}
	if err := b.node.Publish(&channels.Message{Kind: channels.KindPublication, Channel: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close = %v", err)
	}
}

// TestBrokerOutage stops the NATS server mid-run: each node keeps
// delivering locally, counts and logs it; presence falls back to each
// node's own; when the server is back, delivery across nodes heals and
// presence converges again.
func TestBrokerOutage(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 2)
	a, b := ms[0], ms[1]
	onA, onB := newSink(1, "1"), newSink(2, "2")
	connect(t, a.hub, onA, "room:lobby", channels.SubscribeOptions{})
	connect(t, b.hub, onB, "room:lobby", channels.SubscribeOptions{})
	waitMembers(t, ms, "room:lobby", "1x1 2x1")
	room := mustName(t, "room:lobby")

	ns.Stop()
	testkit.Eventually(t, "both nodes to see the outage", func() bool { return !a.node.Connected() && !b.node.Connected() })
	for i := range 3 {
		data := fmt.Sprintf(`"during %d"`, i)
		if res, err := a.hub.Publish(t.Context(), room, []byte(data)); err != nil || res.Delivered != 1 {
			t.Fatalf("Publish during the outage = %+v, %v", res, err)
		}
		if got := onA.nextData(t); got != data {
			t.Fatalf("a's own subscriber got %s", got)
		}
	}
	if st := a.hub.Stats(); st.BrokerErrors != 3 {
		t.Fatalf("a's hub: %+v", st)
	}
	if st := a.node.Stats(); st.Refused != 3 || st.Connected != 0 || st.Disconnects != 1 {
		t.Fatalf("a's node: %+v", st)
	}
	if a.logs.count("lost the NATS server") != 1 || a.logs.count("broker publish failed") != 1 {
		t.Fatalf("a's log: %q", a.logs.msgs)
	}
	// Presence: the other node is dropped after its DeadAfter.
	waitMembers(t, ms[:1], "room:lobby", "1x1")
	waitMembers(t, ms[1:], "room:lobby", "2x1")

	ns.Restart()
	testkit.Eventually(t, "both nodes to reconnect", func() bool { return a.node.Connected() && b.node.Connected() })
	waitMembers(t, ms, "room:lobby", "1x1 2x1")
	if _, err := a.hub.Publish(t.Context(), room, []byte(`"after"`)); err != nil {
		t.Fatal(err)
	}
	if got := onB.nextData(t); got != `"after"` {
		t.Fatalf("b got %s first; the outage's messages must not arrive late", got)
	}
	onA.next(t)
	if st := a.node.Stats(); st.Reconnects != 1 || st.Connected != 1 {
		t.Fatalf("a's node: %+v", st)
	}
	if a.logs.count("reconnected") != 1 || a.logs.count("broker publish works again") != 1 {
		t.Fatalf("a's log: %q", a.logs.msgs)
	}
}

// TestStartWithoutBroker: a node whose NATS server is not up yet starts
// anyway, delivering locally, and joins once the server is there.
func TestStartWithoutBroker(t *testing.T) {
	ns := natstest.Start(t)
	url := ns.URL()
	ns.Stop()
	a := join(t, url, "a", nil, Config{})
	if a.node.Connected() {
		t.Fatal("connected to a stopped server")
	}
	s := newSink(1, "1")
	connect(t, a.hub, s, "general", channels.SubscribeOptions{})
	if res, err := a.hub.Publish(t.Context(), mustName(t, "general"), []byte(`1`)); err != nil || res.Delivered != 1 {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	ns.Restart()
	b := join(t, url, "b", nil, Config{})
	waitNodes(t, []*member{a, b}, 2)
	if a.logs.count("not reachable yet") != 1 || a.logs.count("connected to the NATS server") != 1 {
		t.Fatalf("a's log: %q", a.logs.msgs)
	}
	if _, err := b.hub.Publish(t.Context(), mustName(t, "general"), []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	s.next(t) // the local 1
	if got := s.nextData(t); got != `2` {
		t.Fatalf("got %s", got)
	}
}

// blockingSink's Deliver waits until released: a Hub that cannot keep up.
type blockingSink struct {
	*sink
	release chan struct{}
}

func (s *blockingSink) Deliver(p []byte) error {
	<-s.release
	return s.sink.Deliver(p)
}

// TestSlowConsumerDropped: messages a node cannot take in time are
// dropped by nats.go beyond PendingLimit, and counted.
func TestSlowConsumerDropped(t *testing.T) {
	ns := natstest.Start(t)
	a := join(t, ns.URL(), "a", nil, Config{})
	b := join(t, ns.URL(), "b", nil, Config{PendingLimit: 10})
	waitNodes(t, []*member{a, b}, 2)
	slow := &blockingSink{sink: newSink(1, "1"), release: make(chan struct{})}
	c := b.hub.Connect(slow)
	defer c.Close()
	c.Subscribe(t.Context(), mustName(t, "general"), channels.SubscribeOptions{})
	const sent = 200
	for i := range sent {
		if _, err := a.hub.Publish(t.Context(), mustName(t, "general"), fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, "a to write everything", func() bool { return a.node.Stats().Published == sent })
	testkit.Eventually(t, "b to drop some", func() bool { return b.node.Stats().Dropped > 0 })
	close(slow.release)
	testkit.Eventually(t, "b to account for every message", func() bool {
		st := b.node.Stats()
		return st.Received+st.Dropped == sent
	})
	if b.logs.count("slow consumer") == 0 {
		t.Fatal("no slow consumer log line")
	}
}

func TestNodes(t *testing.T) {
	ns := natstest.Start(t)
	a := join(t, ns.URL(), "a", nil, Config{Connections: func() int64 { return 11 }})
	b := join(t, ns.URL(), "b", nil, Config{Connections: func() int64 { return 22 }})
	waitNodes(t, []*member{a, b}, 2)
	connect(t, b.hub, newSink(1, "1"), "room:x", channels.SubscribeOptions{})
	waitMembers(t, []*member{a}, "room:x", "1x1")
	testkit.Eventually(t, "b's connections in a's list", func() bool { return a.node.Nodes()[1].Connections == 22 })
	got := a.node.Nodes()
	if len(got) != 2 || got[0].Name != "a" || !got[0].Self || got[0].Connections != 11 ||
		got[1].Name != "b" || got[1].Self || got[1].Presence != 1 || !got[1].Synced || got[1].Started.IsZero() {
		t.Fatalf("Nodes = %+v", got)
	}
}

// TestSameName: two nodes of one name (the old and new generations of a
// wharfd worker while the old drains after a reload) are two nodes to the
// cluster, incarnations apart, each with its own presence.
func TestSameName(t *testing.T) {
	ns := natstest.Start(t)
	old := join(t, ns.URL(), "a", nil, Config{})
	b := join(t, ns.URL(), "b", nil, Config{})
	fresh := join(t, ns.URL(), "a", nil, Config{})
	ms := []*member{old, b, fresh}
	waitNodes(t, ms, 3)
	connect(t, old.hub, newSink(1, "1"), "room:x", channels.SubscribeOptions{})
	connect(t, fresh.hub, newSink(2, "2"), "room:x", channels.SubscribeOptions{})
	waitMembers(t, ms, "room:x", "1x1 2x1")
	if got := b.node.Nodes(); got[1].Name != "a" || got[2].Name != "a" || got[1].Incarnation == got[2].Incarnation {
		t.Fatalf("Nodes = %+v", got)
	}
	old.node.Close()
	waitMembers(t, ms[1:], "room:x", "2x1")
	waitNodes(t, ms[1:], 2)
}

func TestConfig(t *testing.T) {
	ok := Config{URL: "nats://127.0.0.1:4222", NodeName: "a"}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{name: "no URL", edit: func(c *Config) { c.URL = "" }, field: "URL"},
		{name: "no name", edit: func(c *Config) { c.NodeName = "" }, field: "NodeName"},
		{name: "name with a dot", edit: func(c *Config) { c.NodeName = "a.b" }, field: "NodeName"},
		{name: "prefix with a wildcard", edit: func(c *Config) { c.Prefix = "w.>" }, field: "Prefix"},
		{name: "negative heartbeat", edit: func(c *Config) { c.Heartbeat = -1 }, field: "Heartbeat"},
		{name: "dead too soon", edit: func(c *Config) { c.Heartbeat, c.DeadAfter = time.Second, 1500*time.Millisecond }, field: "DeadAfter"},
		{name: "presence delay over heartbeat", edit: func(c *Config) { c.PresenceDelay = 2 * time.Second }, field: "PresenceDelay"},
		{name: "negative queue", edit: func(c *Config) { c.SendQueue = -1 }, field: "SendQueue"},
		{name: "negative pending", edit: func(c *Config) { c.PendingLimit = -1 }, field: "PendingLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			_, err := New(cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New = %v, want a ConfigError on %s", err, tt.field)
			}
		})
	}
	cfg, err := ok.withDefaults()
	if err != nil || cfg.Prefix != DefaultPrefix || cfg.Heartbeat != DefaultHeartbeat || cfg.DeadAfter != DefaultDeadBeats*DefaultHeartbeat ||
		cfg.PresenceDelay != DefaultPresenceDelay || cfg.SendQueue != DefaultSendQueue || cfg.PendingLimit != DefaultPendingLimit {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:hunter2@a:4222, tls://tok3n@b:4222", "nats://xxxxx@a:4222,tls://xxxxx@b:4222"},
		{"nats://a:4222/%zz", "(unparseable URL)"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func filledStats() Stats {
	s := Stats{Lag: Stats{}.Lag}
	s.Lag.Bounds, s.Lag.Counts = make([]float64, 2), make([]uint64, 3)
	statstest.Fill(&s)
	return s
}

func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*Stats).Add, "Bounds", "Nodes")
	statstest.CheckJSON(t, filledStats)
}

// TestConcurrentPublishers publishes from every node at once while
// subscribers come and go: every delivered message arrives once, from
// each publisher in its order.
func TestConcurrentPublishers(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 3)
	const per = 200
	sinks := make([]*sink, len(ms))
	for i, m := range ms {
		sinks[i] = newSink(uint64(i), fmt.Sprint(i))
		connect(t, m.hub, sinks[i], "general", channels.SubscribeOptions{})
	}
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			for k := range per {
				m.hub.Publish(t.Context(), mustName(t, "general"), fmt.Appendf(nil, `"%d-%d"`, i, k))
			}
		})
	}
	wg.Wait()
	for j, s := range sinks {
		next := make([]int, len(ms))
		for range per * len(ms) {
			var from, k int
			fmt.Sscanf(s.nextData(t), `"%d-%d"`, &from, &k)
			if k != next[from] {
				t.Fatalf("sink %d: message %d of node %d, want %d", j, k, from, next[from])
			}
			next[from]++
		}
		if !slices.Equal(next, []int{per, per, per}) {
			t.Fatalf("sink %d got %v", j, next)
		}
	}
}

// TestRelay: an application's notices reach every other node, not the
// sender; while the server is away, Publish fails.
func TestRelay(t *testing.T) {
	ns := natstest.Start(t)
	ms := cluster(t, ns.URL(), 3)
	got := make([]chan string, len(ms))
	for i, m := range ms {
		got[i] = make(chan string, 4)
		m.node.Relay().Subscribe("chat.logout", func(data []byte) { got[i] <- string(data) })
	}
	for _, m := range ms {
		if err := m.node.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms[0].node.Relay().Publish("chat.logout", []byte("key")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(ms); i++ {
		select {
		case d := <-got[i]:
			if d != "key" {
				t.Fatalf("node %d got %q", i, d)
			}
		case <-time.After(testkit.Timeout):
			t.Fatalf("node %d got nothing", i)
		}
	}
	ms[0].node.nc.Flush()
	if len(got[0]) != 0 {
		t.Fatal("the sender got its own notice")
	}
	ns.Stop()
	testkit.Eventually(t, "the outage", func() bool { return !ms[0].node.Connected() })
	if err := ms[0].node.Relay().Publish("chat.logout", []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Publish during the outage = %v", err)
	}
}
