package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"wharf/channels"
	"wharf/internal/natstest"
)

// countSink counts deliveries and signals when it reaches want.
type countSink struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (s *countSink) ID() uint64     { return 1 }
func (s *countSink) UserID() string { return "1" }
func (s *countSink) Deliver([]byte) error {
	if s.n.Add(1) == s.want {
		close(s.done)
	}
	return nil
}

// crossNode starts an embedded nats-server and nodes a and b with their
// Hubs, and subscribes sink to "general" on b.
func crossNode(b *testing.B, sink channels.Subscriber) (ha *channels.Hub, nb *Node) {
	ns := natstest.Start(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := func(name string) (*Node, *channels.Hub) {
		node, err := New(Config{URL: ns.URL(), NodeName: name, Logger: quiet, SendQueue: 1 << 20, PendingLimit: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { node.Close() })
		hub, err := channels.NewHub(channels.Config{Namespaces: testNamespaces, Encoder: frameEncoder, Broker: node, Presence: node, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		return node, hub
	}
	_, ha = mk("a")
	nb, hb := mk("b")
	c := hb.Connect(sink)
	b.Cleanup(c.Close)
	if _, err := c.Subscribe(b.Context(), mustName(b, "general"), channels.SubscribeOptions{}); err != nil {
		b.Fatal(err)
	}
	return ha, nb
}

// BenchmarkCrossNode measures what the broker adds to a publication whose
// subscriber is on another node, through an embedded nats-server, with
// everything (two nodes, the server) in this process:
//
//   - throughput: a publishes b.N messages as fast as it can; msgs/s is
//     the rate b receives them at, ns/op the CPU of the whole path
//     (publish, the server's routing, receive) on this machine's cores.
//
//   - latency: one message at a time, the next once b has the last;
//     lag-p50/p99 are b's Stats().Lag (publish on a to receipt on b).
//
//     go test ./cluster -run '^$' -bench CrossNode -benchtime 100000x
func BenchmarkCrossNode(b *testing.B) {
	for _, size := range []int{100, 1000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = 'x'
		}
		b.Run(fmt.Sprintf("throughput/bytes=%d", size), func(b *testing.B) {
			s := &countSink{want: int64(b.N), done: make(chan struct{})}
			ha, nb := crossNode(b, s)
			ch := mustName(b, "general")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := ha.Publish(b.Context(), ch, data); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-s.done:
			case <-time.After(time.Minute):
				b.Fatalf("b received %d of %d (dropped %d, a refused %d)", s.n.Load(), b.N, nb.Stats().Dropped, ha.Stats().BrokerErrors)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
		b.Run(fmt.Sprintf("latency/bytes=%d", size), func(b *testing.B) {
			got := make(chan struct{}, 1)
			ha, nb := crossNode(b, signalSink(got))
			ch := mustName(b, "general")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := ha.Publish(b.Context(), ch, data); err != nil {
					b.Fatal(err)
				}
				select {
				case <-got:
				case <-time.After(10 * time.Second):
					b.Fatal("no delivery on b")
				}
			}
			lag := nb.Stats().Lag
			b.ReportMetric(lag.Quantile(0.5)*1e6, "lag-p50-µs")
			b.ReportMetric(lag.Quantile(0.99)*1e6, "lag-p99-µs")
		})
	}
}

// signalSink signals each delivery on its channel.
type signalSink chan struct{}

func (s signalSink) ID() uint64     { return 1 }
func (s signalSink) UserID() string { return "1" }
func (s signalSink) Deliver([]byte) error {
	s <- struct{}{}
	return nil
}
