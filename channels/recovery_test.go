package channels

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// publishN publishes n messages to ch as the backend and returns their
// positions.
func publishN(t testing.TB, h *Hub, ch Name, n int) []Position {
	t.Helper()
	var out []Position
	for i := range n {
		res, err := h.Publish(t.Context(), ch, fmt.Appendf(nil, `%d`, i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Position)
	}
	return out
}

func TestRecovery(t *testing.T) {
	forEachHistory(t, func(t *testing.T, b historyBackend, open func() HistoryStore) {
		now := t0
		ns := []Namespace{{Name: "room", HistorySize: 5, HistoryTTL: time.Minute}, {Name: "plain"}}
		h := newTestHub(t, Config{Namespaces: ns, History: open(), Clock: func() time.Time { return now }})
		ctx := t.Context()
		room := mustName(t, "room:a")

		// Subscribing to an empty stream: position zero; recovering from
		// zero works (nothing was missed).
		s0 := newSink(1, "1")
		c0 := h.Connect(s0)
		res, err := c0.Subscribe(ctx, room, SubscribeOptions{Recover: true})
		if err != nil || res != (SubscribeResult{Recovered: true}) {
			t.Fatalf("empty stream: %+v, %v", res, err)
		}
		c0.Close()

		ps := publishN(t, h, room, 4) // offsets 1..4
		epoch := ps[0].Epoch
		tests := []struct {
			name      string
			since     Position
			recovered bool
			want      []uint64 // offsets delivered
		}{
			{"from the middle", ps[1], true, []uint64{3, 4}},
			{"from the top", ps[3], true, nil},
			{"from nothing, history complete", Position{}, true, []uint64{1, 2, 3, 4}},
			{"epoch changed", Position{Offset: 2, Epoch: "other"}, false, nil},
			{"offset from the future", Position{Offset: 9, Epoch: epoch}, false, nil},
			{"no epoch but an offset", Position{Offset: 2}, false, nil},
		}
		for i, tt := range tests {
			s := newSink(uint64(10+i), "1")
			c := h.Connect(s)
			res, err := c.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: tt.since})
			if err != nil || res.Recovered != tt.recovered || res.Position != ps[3] || res.Missed != len(tt.want) {
				t.Errorf("%s: %+v, %v", tt.name, res, err)
			}
			got := s.take(t)
			if !slices.Equal(offsets(got), tt.want) {
				t.Errorf("%s: delivered %v, want %v", tt.name, offsets(got), tt.want)
			}
			c.Close()
		}

		// Out of the window: 4 more make offsets 4..8 the window of 5.
		publishN(t, h, room, 4)
		for _, tt := range []struct {
			since     Position
			recovered bool
		}{
			{ps[1], false}, // missed 3..8, 3 is gone
			{ps[2], true},  // missed 4..8, all there
			{Position{}, false},
		} {
			c := h.Connect(newSink(30, "1"))
			res, _ := c.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: tt.since})
			if res.Recovered != tt.recovered {
				t.Errorf("window, since %v: Recovered = %v", tt.since, res.Recovered)
			}
			c.Close()
		}

		// TTL: entries older than a minute cannot be recovered.
		now = now.Add(30 * time.Second)
		publishN(t, h, room, 1) // offset 9
		now = now.Add(45 * time.Second)
		c := h.Connect(newSink(31, "1"))
		if res, _ := c.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: Position{Offset: 7, Epoch: epoch}}); res.Recovered {
			t.Error("recovered entries past their TTL")
		}
		c.Close()
		s := newSink(32, "1")
		c = h.Connect(s)
		if res, _ := c.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: Position{Offset: 8, Epoch: epoch}}); !res.Recovered || !slices.Equal(offsets(s.take(t)), []uint64{9}) {
			t.Errorf("recovering the entry still within its TTL: %+v", res)
		}
		c.Close()

		// A namespace without history cannot recover.
		c = h.Connect(newSink(33, "1"))
		if res, err := c.Subscribe(ctx, mustName(t, "plain:x"), SubscribeOptions{Recover: true, Since: ps[0]}); err != nil || res.Recovered {
			t.Errorf("plain namespace: %+v, %v", res, err)
		}
		c.Close()
		if st := h.Stats(); st.Recovered == 0 || st.Resyncs == 0 {
			t.Errorf("Stats = %+v", st)
		}
	})
}

// TestRecoveryAcrossRestart: a client of a restarted server recovers from
// SQL history and must resync with memory history.
func TestRecoveryAcrossRestart(t *testing.T) {
	forEachHistory(t, func(t *testing.T, b historyBackend, open func() HistoryStore) {
		ctx := t.Context()
		room := mustName(t, "room:a")
		h1 := newTestHub(t, Config{History: open()})
		ps := publishN(t, h1, room, 3)
		// The server restarts; the client reconnects having seen offset 1.
		h2 := newTestHub(t, Config{History: open()})
		publishN(t, h2, room, 1)
		s := newSink(1, "1")
		c := h2.Connect(s)
		defer c.Close()
		res, err := c.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: ps[0]})
		if err != nil || res.Recovered != b.durable {
			t.Fatalf("Recovered = %v, %v; want %v", res.Recovered, err, b.durable)
		}
		if b.durable && !slices.Equal(offsets(s.take(t)), []uint64{2, 3, 4}) {
			t.Fatal("missed publications not delivered")
		}
	})
}

// TestRecoveryBeforeLive: the recovered publications arrive before the
// live ones, batched into one delivery.
func TestRecoveryBeforeLive(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	room := mustName(t, "room:a")
	ps := publishN(t, h, room, 10)
	s := newSink(1, "1")
	c := h.Connect(s)
	defer c.Close()
	if res, _ := c.Subscribe(ctx, room, SubscribeOptions{Recover: true, Since: ps[2]}); !res.Recovered || res.Missed != 7 {
		t.Fatalf("Subscribe = %+v", res)
	}
	if s.calls() != 1 {
		t.Fatalf("7 recovered publications took %d deliveries, want 1", s.calls())
	}
	publishN(t, h, room, 2)
	if got := offsets(s.take(t)); !slices.Equal(got, []uint64{4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("offsets = %v", got)
	}
}

func TestHubHistoryQuery(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	room := mustName(t, "room:a")
	ps := publishN(t, h, room, 5)
	msgs, pos, err := h.History(ctx, room, Query{Limit: 2, Newest: true})
	if err != nil || pos != ps[4] || !slices.Equal(datas(msgs), []string{"3", "4"}) {
		t.Fatalf("History = %v at %v, %v", datas(msgs), pos, err)
	}
	if msgs, _, _ := h.History(ctx, room, Query{After: 1}); !slices.Equal(offsets(msgs), []uint64{2, 3, 4, 5}) {
		t.Fatalf("History after 1 = %v", offsets(msgs))
	}
	if _, _, err := h.History(ctx, mustName(t, "general"), Query{}); err == nil {
		t.Fatal("history of a namespace without history")
	}
}
