package channels_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"wharf/channels"
)

// The benchmarks' commands, and what they should show, are in doc.go
// ("Performance").

// countSub counts deliveries: the Hub's own cost, with a Deliver that does
// nothing but count.
type countSub struct {
	id   uint64
	user string // "u" if empty
	n    int    // written by the benchmark's one publishing goroutine
}

func (s *countSub) ID() uint64 { return s.id }
func (s *countSub) UserID() string {
	if s.user == "" {
		return "u"
	}
	return s.user
}
func (s *countSub) Deliver(p []byte) error { s.n++; return nil }

// queueSub stands for a connection's send queue: a lock and a bounded
// ring of pending messages, about what an engine's AsyncWrite costs
// before the loop writes the bytes.
type queueSub struct {
	id   uint64
	mu   sync.Mutex // guards the ring
	ring [16][]byte
	next int
}

func (s *queueSub) ID() uint64     { return s.id }
func (s *queueSub) UserID() string { return "u" }
func (s *queueSub) Deliver(p []byte) error {
	s.mu.Lock()
	s.ring[s.next%len(s.ring)] = p // the "loop" drained the oldest
	s.next++
	s.mu.Unlock()
	return nil
}

func benchHub(b testing.TB) *channels.Hub {
	h, err := channels.NewHub(channels.Config{
		Encoder: PacketEncoder,
		Namespaces: []channels.Namespace{
			{Name: ""},
			{Name: "room", HistorySize: 100},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// data100 is a 100-byte JSON payload.
var data100 = []byte(`{"text":"` + strings.Repeat("x", 100-len(`{"text":""}`)) + `"}`)

// BenchmarkPublish publishes 100-byte messages to one channel of N
// subscribers from one goroutine: deliveries/s is per core.
func BenchmarkPublish(b *testing.B) {
	for _, channel := range []string{"plain", "room:history"} {
		for _, kind := range []string{"count", "queue"} {
			for _, n := range []int{1, 100, 1000, 10000} {
				b.Run(fmt.Sprintf("%s/%s/subs=%d", channel, kind, n), func(b *testing.B) {
					h := benchHub(b)
					ctx := context.Background()
					ch, _ := channels.ParseName(channel)
					for i := range n {
						var s channels.Subscriber = &countSub{id: uint64(i)}
						if kind == "queue" {
							s = &queueSub{id: uint64(i)}
						}
						c := h.Connect(s)
						defer c.Close()
						if _, err := c.Subscribe(ctx, ch, channels.SubscribeOptions{}); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportAllocs()
					b.SetBytes(int64(len(data100)))
					b.ResetTimer()
					for b.Loop() {
						if _, err := h.Publish(ctx, ch, data100); err != nil {
							b.Fatal(err)
						}
					}
					d := float64(b.N) * float64(n)
					b.ReportMetric(d/b.Elapsed().Seconds(), "deliveries/s")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
				})
			}
		}
	}
}

// BenchmarkPublishParallel publishes from every core, each goroutine to
// its own channel of 1000 subscribers: no lock is shared between them, so
// deliveries/s should scale with the cores.
func BenchmarkPublishParallel(b *testing.B) {
	h := benchHub(b)
	ctx := context.Background()
	const subs = 1000
	var next atomic.Int64
	chans := make([]channels.Name, 64)
	for i := range chans {
		chans[i], _ = channels.ParseName(fmt.Sprintf("c%d", i))
		for j := range subs {
			c := h.Connect(&queueSub{id: uint64(j)})
			defer c.Close()
			c.Subscribe(ctx, chans[i], channels.SubscribeOptions{})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ch := chans[next.Add(1)%int64(len(chans))]
		for pb.Next() {
			h.Publish(ctx, ch, data100)
		}
	})
	b.StopTimer() // not the deferred Closes
	d := float64(b.N) * subs
	b.ReportMetric(d/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkChurn unsubscribes one of N subscribers of a channel and
// subscribes it again, per op.
func BenchmarkChurn(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h := benchHub(b)
			ctx := context.Background()
			ch, _ := channels.ParseName("plain")
			clients := make([]*channels.Client, n)
			for i := range clients {
				clients[i] = h.Connect(&countSub{id: uint64(i)})
				defer clients[i].Close()
				clients[i].Subscribe(ctx, ch, channels.SubscribeOptions{})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c := clients[i%n]
				i += 7919 // a prime: visit positions all over the roster
				c.Unsubscribe(ch)
				if _, err := c.Subscribe(ctx, ch, channels.SubscribeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnectionLifecycle is a connection's whole life in the Hub:
// Connect, 10 subscriptions (one with presence), Close.
func BenchmarkConnectionLifecycle(b *testing.B) {
	h, _ := channels.NewHub(channels.Config{Encoder: PacketEncoder})
	ctx := context.Background()
	names := make([]channels.Name, 10)
	for i := range names {
		names[i], _ = channels.ParseName(fmt.Sprintf("general-%d", i))
	}
	names[0], _ = channels.ParseName("room:lobby")
	// Other connections keep the channels alive, as in a busy server.
	for i := range 100 {
		c := h.Connect(&countSub{id: uint64(i)})
		defer c.Close()
		for _, n := range names {
			c.Subscribe(ctx, n, channels.SubscribeOptions{})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c := h.Connect(&countSub{})
		for _, n := range names {
			c.Subscribe(ctx, n, channels.SubscribeOptions{})
		}
		c.Close()
	}
}

// hubBytesPerConn connects conns clients, subscribes each to 10 of
// conns/10 channels (100 subscribers per channel on average) and returns
// the heap the Hub holds per connection: Clients, memberships, rosters,
// channels, the user index (a user per connection) and presence. The Subscribers themselves (the
// server's connections) are allocated before the first measurement.
func hubBytesPerConn(t testing.TB, conns int, ns string) float64 {
	h, _ := channels.NewHub(channels.Config{Encoder: PacketEncoder, MaxChannelsPerClient: 10})
	ctx := context.Background()
	nchan := max(conns/10, 10)
	names := make([]channels.Name, nchan)
	for i := range names {
		names[i], _ = channels.ParseName(fmt.Sprintf("%s%d", ns, i))
	}
	subs := make([]*countSub, conns)
	for i := range subs {
		subs[i] = &countSub{id: uint64(i), user: strconv.Itoa(i)} // a user per connection
	}
	clients := make([]*channels.Client, 0, conns)
	before := heapInUse()
	for i, s := range subs {
		c := h.Connect(s)
		clients = append(clients, c)
		for j := range 10 {
			// Spread: connection i joins channels i, i+1·k, ... so every
			// channel gets about the same number of subscribers.
			if _, err := c.Subscribe(ctx, names[(i+j*(nchan/10+1))%nchan], channels.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := heapInUse()
	if st := h.Stats(); st.Subscriptions != int64(10*conns) {
		t.Fatalf("%d subscriptions, want %d", st.Subscriptions, 10*conns)
	}
	perConn := float64(after-before) / float64(conns)
	runtime.KeepAlive(subs)
	for _, c := range clients {
		c.Close()
	}
	return perConn - 8 // the clients slice above is the test's, not the Hub's
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerConnection is the Hub's memory budget: a connection in 10
// channels must cost it well under the 2 KB per connection (which
// also pays for the engine's 0.45 KiB and the server's state).
func TestMemoryPerConnection(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocates 20,000 connections; the race detector's allocations would count")
	}
	for _, tt := range []struct {
		ns     string
		budget float64
	}{
		{"plain-", 700},
		{"room:", 1100}, // presence: a map entry per (channel, user)
	} {
		got := hubBytesPerConn(t, 20000, tt.ns)
		t.Logf("%s: %.0f bytes per connection in 10 channels", tt.ns, got)
		if got > tt.budget {
			t.Errorf("%s: %.0f bytes per connection, budget %.0f", tt.ns, got, tt.budget)
		}
	}
}

// BenchmarkMemoryPerConnection reports the Hub's bytes per connection for
// the target: 100,000 connections in 10 channels each.
func BenchmarkMemoryPerConnection(b *testing.B) {
	for _, ns := range []string{"plain-", "room:"} {
		b.Run(strings.TrimRight(ns, ":-"), func(b *testing.B) {
			var per float64
			for range b.N {
				per = hubBytesPerConn(b, 100000, ns)
			}
			b.ReportMetric(per, "B/conn")
		})
	}
}
