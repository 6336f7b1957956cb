package channels

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// seqSink checks what a reconnecting client relies on: the offsets it
// sees, after dropping those at or below the last one it saw (the
// duplicates SPEC allows), run 1, 2, 3... without a gap, across
// resubscriptions with recovery.
type seqSink struct {
	id   uint64
	mu   sync.Mutex // guards the fields below
	last uint64
	bad  string // the first violation
	t    testing.TB
}

func (s *seqSink) ID() uint64     { return s.id }
func (s *seqSink) UserID() string { return fmt.Sprint(s.id % 5) }

func (s *seqSink) Deliver(p []byte) error {
	msgs := decodeAll(s.t, p)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		if m.Kind != KindPublication || m.Offset <= s.last {
			continue
		}
		if m.Offset != s.last+1 && s.bad == "" {
			s.bad = fmt.Sprintf("offset %d after %d", m.Offset, s.last)
		}
		s.last = m.Offset
	}
	return nil
}

func (s *seqSink) position(epoch string) Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == 0 {
		return Position{}
	}
	return Position{Offset: s.last, Epoch: epoch}
}

// TestConcurrentChurn publishes from several goroutines while clients
// subscribe, recover, unsubscribe and close, on channels with and without
// history. Run it with -race.
func TestConcurrentChurn(t *testing.T) {
	const (
		publishers = 4
		perPub     = 300
		clients    = 12
	)
	h := newTestHub(t, Config{Namespaces: []Namespace{
		// Room for every publication, so that a client whose first
		// subscription comes after the last one still recovers from 0.
		{Name: "room", Presence: true, JoinLeave: true, HistorySize: 1 + publishers*perPub},
		{Name: ""},
	}})
	ctx := t.Context()
	hot, plain := mustName(t, "room:hot"), mustName(t, "plain")
	epoch := publishN(t, h, hot, 1)[0].Epoch

	var pubs, subs sync.WaitGroup
	stop := make(chan struct{})
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range perPub {
				if _, err := h.Publish(ctx, hot, []byte(`1`)); err != nil {
					t.Error(err)
					return
				}
				if i%10 == p {
					h.Publish(ctx, plain, []byte(`2`))
					h.SendToUser(fmt.Sprint(i%5), []byte(`3`))
				}
			}
		}()
	}
	sinks := make([]*seqSink, clients)
	for i := range clients {
		sinks[i] = &seqSink{id: uint64(i), t: t}
		subs.Add(1)
		go func() {
			defer subs.Done()
			s := sinks[i]
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			c := h.Connect(s)
			for {
				res, err := c.Subscribe(ctx, hot, SubscribeOptions{Recover: true, Since: s.position(epoch), JoinLeave: rng.IntN(2) == 0})
				if err != nil || !res.Recovered {
					t.Errorf("client %d: Subscribe = %+v, %v", i, res, err)
					return
				}
				c.Subscribe(ctx, plain, SubscribeOptions{})
				h.Presence(ctx, hot)
				select {
				case <-stop:
					c.Close()
					return
				default:
				}
				switch rng.IntN(3) {
				case 0:
					c.Unsubscribe(hot)
					c.Unsubscribe(plain)
				default: // reconnect: a new Client for the same connection
					c.Close()
					c = h.Connect(s)
				}
			}
		}()
	}
	pubs.Wait()
	close(stop)
	subs.Wait()

	total := uint64(1 + publishers*perPub)
	for _, s := range sinks {
		// A last recovery brings every client to the end.
		c := h.Connect(s)
		if res, err := c.Subscribe(ctx, hot, SubscribeOptions{Recover: true, Since: s.position(epoch)}); err != nil || !res.Recovered {
			t.Fatalf("final recovery: %+v, %v", res, err)
		}
		c.Close()
		if s.bad != "" || s.last != total {
			t.Errorf("client %d: %s; last offset %d of %d", s.id, s.bad, s.last, total)
		}
	}
	if st := h.Stats(); st.Channels != 0 || st.Subscriptions != 0 || st.Clients != 0 || st.Members != 0 || st.Users != 0 {
		t.Fatalf("after everyone left: %+v", st)
	}
}
