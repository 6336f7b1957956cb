package channels

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"
)

// testEncoder frames each message as a uvarint length and its binary form,
// so a sink can split a delivery into messages again.
var testEncoder = EncoderFunc(func(dst []byte, m *Message) ([]byte, error) {
	body, _ := m.AppendBinary(nil)
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...), nil
})

// decodeAll splits a delivery made with testEncoder.
func decodeAll(t testing.TB, p []byte) []Message {
	t.Helper()
	var out []Message
	for len(p) > 0 {
		n, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < n {
			t.Fatalf("bad framing in delivery")
		}
		var m Message
		if err := m.UnmarshalBinary(p[k : k+int(n)]); err != nil {
			t.Fatalf("bad message in delivery: %v", err)
		}
		out = append(out, m)
		p = p[k+int(n):]
	}
	return out
}

// sink is a Subscriber that records what it is given.
type sink struct {
	id   uint64
	user string

	mu         sync.Mutex // guards the fields below
	deliveries [][]byte
	err        error // what Deliver returns
	notify     chan struct{}
}

func newSink(id uint64, user string) *sink {
	return &sink{id: id, user: user, notify: make(chan struct{}, 1)}
}

func (s *sink) ID() uint64     { return s.id }
func (s *sink) UserID() string { return s.user }

func (s *sink) Deliver(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.deliveries = append(s.deliveries, p)
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *sink) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// take returns and forgets the messages delivered so far.
func (s *sink) take(t testing.TB) []Message {
	t.Helper()
	s.mu.Lock()
	d := s.deliveries
	s.deliveries = nil
	s.mu.Unlock()
	var out []Message
	for _, p := range d {
		out = append(out, decodeAll(t, p)...)
	}
	return out
}

// calls returns how many Deliver calls succeeded, without forgetting them.
func (s *sink) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deliveries)
}

// t0 is the tests' time; tests that move the clock pass the Hub a Clock
// closure over a variable of their own, read and written by the test's
// goroutine only.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newTestHub returns a Hub with the test encoder; fields set in cfg win.
func newTestHub(t testing.TB, cfg Config) *Hub {
	t.Helper()
	if cfg.Encoder == nil {
		cfg.Encoder = testEncoder
	}
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	return h
}

func mustName(t testing.TB, s string) Name {
	t.Helper()
	n, err := ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// datas returns the Data of msgs as strings, for comparisons.
func datas(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Data)
	}
	return out
}

func offsets(msgs []Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Offset
	}
	return out
}
