package cluster

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"wharf/channels"
	"wharf/internal/natstest"
	"wharf/internal/pgtest"
	"wharf/internal/testkit"
)

// TestOffsetsAcrossNodes: two nodes publishing to one channel at once,
// each with its own pool on one PostgreSQL database, get offsets 1, 2,
// 3... of one epoch with neither gaps nor duplicates, and every
// subscriber, on either node, gets every offset once.
func TestOffsetsAcrossNodes(t *testing.T) {
	url := pgtest.New(t)
	ns := natstest.Start(t)
	a := join(t, ns.URL(), "a", pgHistory(t, url), Config{})
	b := join(t, ns.URL(), "b", pgHistory(t, url), Config{})
	ms := []*member{a, b}
	waitNodes(t, ms, 2)
	onA, onB := newSink(1, "1"), newSink(2, "2")
	connect(t, a.hub, onA, "log:x", channels.SubscribeOptions{})
	connect(t, b.hub, onB, "log:x", channels.SubscribeOptions{})
	ch := mustName(t, "log:x")

	// One after the other: every subscriber sees 1, 2, 3... in order.
	for i := range 6 {
		m := ms[i%2]
		res, err := m.hub.Publish(t.Context(), ch, fmt.Appendf(nil, "%d", i))
		if err != nil || res.Position.Offset != uint64(i+1) {
			t.Fatalf("publication %d on %s: %+v, %v", i, m.node.Name(), res, err)
		}
		for _, s := range []*sink{onA, onB} {
			if got := s.next(t); got.Offset != uint64(i+1) || got.Epoch != res.Position.Epoch {
				t.Fatalf("sink %d got offset %d epoch %s, want %d %s", s.id, got.Offset, got.Epoch, i+1, res.Position.Epoch)
			}
		}
	}

	// Both at once: the database allocates.
	const per = 50
	var (
		mu  sync.Mutex // guards pos
		pos []channels.Position
		wg  sync.WaitGroup
	)
	for _, m := range ms {
		wg.Go(func() {
			for i := range per {
				res, err := m.hub.Publish(t.Context(), ch, fmt.Appendf(nil, `"%s%d"`, m.node.Name(), i))
				if err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
				mu.Lock()
				pos = append(pos, res.Position)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(pos, func(x, y channels.Position) int { return int(x.Offset) - int(y.Offset) })
	for i, p := range pos {
		if p.Offset != uint64(7+i) || p.Epoch != pos[0].Epoch {
			t.Fatalf("position %d = %+v; want offset %d, one epoch", i, p, 7+i)
		}
	}
	for _, s := range []*sink{onA, onB} {
		seen := map[uint64]bool{}
		for range 2 * per {
			m := s.next(t)
			if seen[m.Offset] || m.Offset < 7 || m.Offset > 6+2*per {
				t.Fatalf("sink %d: offset %d twice or out of range", s.id, m.Offset)
			}
			seen[m.Offset] = true
		}
	}
}

// TestRecoveryAfterNodeKilled: a client's node is killed; the client
// reconnects to another node and recovers what it missed from the shared
// history, then gets the live publications. The killed node, started
// again, finds the history whole, in the same epoch.
func TestRecoveryAfterNodeKilled(t *testing.T) {
	url := pgtest.New(t)
	ns := natstest.Start(t)
	a := join(t, ns.URL(), "a", pgHistory(t, url), Config{})
	b := join(t, ns.URL(), "b", pgHistory(t, url), Config{})
	c := join(t, ns.URL(), "c", pgHistory(t, url), Config{})
	waitNodes(t, []*member{a, b, c}, 3)
	ch := mustName(t, "log:chat")

	client := newSink(1, "1")
	onC := c.hub.Connect(client)
	if _, err := onC.Subscribe(t.Context(), ch, channels.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	var last channels.Position
	for i := range 3 {
		a.hub.Publish(t.Context(), ch, fmt.Appendf(nil, `"%d"`, i))
		m := client.next(t)
		last = m.Position()
	}
	c.abandon() // kill -9: c's hub and its connections are gone
	for i := 3; i < 6; i++ {
		a.hub.Publish(t.Context(), ch, fmt.Appendf(nil, `"%d"`, i))
	}
	testkit.Eventually(t, "a and b to drop c", func() bool { return len(a.node.Nodes()) == 2 && len(b.node.Nodes()) == 2 })

	back := newSink(2, "1") // the same user, reconnected to b
	onB := b.hub.Connect(back)
	defer onB.Close()
	res, err := onB.Subscribe(t.Context(), ch, channels.SubscribeOptions{Recover: true, Since: last})
	if err != nil || !res.Recovered || res.Missed != 3 || res.Position.Offset != 6 || res.Position.Epoch != last.Epoch {
		t.Fatalf("recovery on b: %+v, %v (since %+v)", res, err, last)
	}
	for i := 3; i < 6; i++ {
		if got := back.next(t); string(got.Data) != fmt.Sprintf(`"%d"`, i) || got.Offset != uint64(i+1) {
			t.Fatalf("recovered %+v, want offset %d", got, i+1)
		}
	}
	a.hub.Publish(t.Context(), ch, []byte(`"live"`))
	if got := back.next(t); string(got.Data) != `"live"` || got.Offset != 7 {
		t.Fatalf("live %+v", got)
	}

	// c restarts: a new incarnation, the same history.
	c2 := join(t, ns.URL(), "c", pgHistory(t, url), Config{})
	waitNodes(t, []*member{a, b, c2}, 3)
	msgs, pos, err := c2.hub.History(t.Context(), ch, channels.Query{Limit: 100})
	if err != nil || len(msgs) != 7 || pos.Offset != 7 || pos.Epoch != last.Epoch {
		t.Fatalf("history after the restart: %d messages, %+v, %v", len(msgs), pos, err)
	}
}
