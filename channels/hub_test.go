package channels

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"wharf/internal/statstest"
)

func TestSubscribePublishUnsubscribe(t *testing.T) {
	h := newTestHub(t, Config{Clock: func() time.Time { return t0 }})
	ctx := t.Context()
	a, b := newSink(1, "1"), newSink(2, "2")
	ca, cb := h.Connect(a), h.Connect(b)
	defer ca.Close()
	defer cb.Close()
	general := mustName(t, "general")
	for _, c := range []*Client{ca, cb} {
		if _, err := c.Subscribe(ctx, general, SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ca.Subscribe(ctx, general, SubscribeOptions{}); !errors.Is(err, ErrAlreadySubscribed) {
		t.Fatalf("second subscription: %v", err)
	}
	res, err := ca.Publish(ctx, general, []byte(`{"text":"hi"}`))
	if err != nil || res.Delivered != 2 || res.Position != (Position{}) {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	for _, s := range []*sink{a, b} {
		got := s.take(t)
		want := Message{Kind: KindPublication, Channel: "general", From: "1", Time: t0.UnixMilli(), Data: []byte(`{"text":"hi"}`)}
		if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
			t.Fatalf("sink %d got %+v", s.id, got)
		}
	}
	if err := cb.Unsubscribe(general); err != nil {
		t.Fatal(err)
	}
	if err := cb.Unsubscribe(general); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("second unsubscribe: %v", err)
	}
	if res, _ := h.Publish(ctx, general, []byte(`2`)); res.Delivered != 1 {
		t.Fatalf("after unsubscribe: delivered %d", res.Delivered)
	}
	if got := b.take(t); len(got) != 0 {
		t.Fatalf("unsubscribed sink got %v", got)
	}
	if got := datas(a.take(t)); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("a got %v", got)
	}
	if got := ca.Channels(); !slices.Equal(got, []string{"general"}) {
		t.Fatalf("Channels = %v", got)
	}
}

func TestEncodeOnceSameBytes(t *testing.T) {
	encodes := 0
	var mu sync.Mutex
	enc := EncoderFunc(func(dst []byte, m *Message) ([]byte, error) {
		mu.Lock()
		encodes++
		mu.Unlock()
		return testEncoder(dst, m)
	})
	h := newTestHub(t, Config{Encoder: enc})
	ch := mustName(t, "general")
	var sinks []*sink
	for i := range 300 {
		s := newSink(uint64(i), "u")
		sinks = append(sinks, s)
		c := h.Connect(s)
		defer c.Close()
		c.Subscribe(t.Context(), ch, SubscribeOptions{})
	}
	if res, err := h.Publish(t.Context(), ch, []byte(`"x"`)); err != nil || res.Delivered != 300 {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	if encodes != 1 {
		t.Fatalf("encoded %d times for 300 subscribers", encodes)
	}
	first := unsafe.SliceData(sinks[0].deliveries[0])
	for _, s := range sinks {
		if unsafe.SliceData(s.deliveries[0]) != first {
			t.Fatal("subscribers got different buffers")
		}
	}
}

// TestPublishAllocations is the allocation budget of a publication: a
// constant number, not one per subscriber.
func TestPublishAllocations(t *testing.T) {
	h := newTestHub(t, Config{Encoder: EncoderFunc(func(dst []byte, m *Message) ([]byte, error) {
		return AppendJSON(dst, m), nil
	})})
	ch := mustName(t, "general")
	data := []byte(`{"text":"hello"}`)
	allocs := func(n int) float64 {
		for i := range n {
			c := h.Connect(nopSubscriber{})
			defer c.Close()
			if _, err := c.Subscribe(t.Context(), ch, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			_ = i
		}
		return testing.AllocsPerRun(100, func() { h.Publish(t.Context(), ch, data) })
	}
	one := allocs(1)
	many := allocs(2000) // 2001 in all
	if one > 2 || many != one {
		t.Fatalf("a publication allocates %v times to 1 subscriber and %v to 2001; want at most 2, the same", one, many)
	}
}

type nopSubscriber struct{}

func (nopSubscriber) ID() uint64             { return 0 }
func (nopSubscriber) UserID() string         { return "u" }
func (nopSubscriber) Deliver(p []byte) error { return nil }

func TestDirectMessages(t *testing.T) {
	h := newTestHub(t, Config{})
	tab1, tab2, other, anon := newSink(1, "7"), newSink(2, "7"), newSink(3, "8"), newSink(4, "")
	c1, c2, c3, c4 := h.Connect(tab1), h.Connect(tab2), h.Connect(other), h.Connect(anon)
	defer c3.Close()
	defer c4.Close()
	if s := h.Stats(); s.Users != 2 || s.Clients != 4 {
		t.Fatalf("Stats = %+v", s)
	}
	n, err := c3.SendToUser("7", []byte(`"psst"`))
	if err != nil || n != 2 {
		t.Fatalf("SendToUser = %d, %v", n, err)
	}
	for _, s := range []*sink{tab1, tab2} {
		got := s.take(t)
		if len(got) != 1 || got[0].Kind != KindDirect || got[0].From != "8" || got[0].User != "7" || string(got[0].Data) != `"psst"` {
			t.Fatalf("tab %d got %+v", s.id, got)
		}
	}
	if got := other.take(t); len(got) != 0 {
		t.Fatalf("sender got %v", got)
	}
	c1.Close()
	if n, _ := h.SendToUser("7", []byte(`1`)); n != 1 {
		t.Fatalf("after one tab closed: %d", n)
	}
	c2.Close()
	if n, err := h.SendToUser("7", []byte(`1`)); n != 0 || err != nil {
		t.Fatalf("to a user with no connection: %d, %v", n, err)
	}
	if s := h.Stats(); s.Users != 1 || s.Directs != 3 {
		t.Fatalf("Stats = %+v", s)
	}
	for _, bad := range []string{"", "a b", "x:y"} {
		if _, err := h.SendToUser(bad, nil); !errors.Is(err, ErrBadUser) {
			t.Errorf("SendToUser(%q) = %v", bad, err)
		}
	}
}

func TestCloseUnsubscribesAll(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	s := newSink(1, "1")
	c := h.Connect(s)
	names := []string{"general", "room:a", "room:b", "user:1"}
	for _, n := range names {
		if _, err := c.Subscribe(ctx, mustName(t, n), SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.Stats(); st.Channels != 4 || st.Subscriptions != 4 || st.Members != 2 {
		t.Fatalf("Stats = %+v", st)
	}
	c.Close()
	c.Close() // idempotent
	if st := h.Stats(); st.Channels != 0 || st.Subscriptions != 0 || st.Clients != 0 || st.Users != 0 || st.Members != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	for _, n := range names {
		if res, _ := h.Publish(ctx, mustName(t, n), []byte(`1`)); res.Delivered != 0 {
			t.Fatalf("%s still delivers", n)
		}
	}
	if _, err := c.Subscribe(ctx, mustName(t, "general"), SubscribeOptions{}); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if err := c.Unsubscribe(mustName(t, "general")); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("Unsubscribe after Close: %v", err)
	}
}

func TestLimits(t *testing.T) {
	h := newTestHub(t, Config{
		Namespaces:           []Namespace{{Name: "small", MaxSubscribers: 2}, {Name: ""}},
		MaxChannelsPerClient: 3,
		MaxDataSize:          10,
	})
	ctx := t.Context()
	var cs []*Client
	for i := range 3 {
		c := h.Connect(newSink(uint64(i), "u"))
		defer c.Close()
		cs = append(cs, c)
	}
	small := mustName(t, "small:1")
	cs[0].Subscribe(ctx, small, SubscribeOptions{})
	cs[1].Subscribe(ctx, small, SubscribeOptions{})
	if _, err := cs[2].Subscribe(ctx, small, SubscribeOptions{}); !errors.Is(err, ErrChannelFull) {
		t.Fatalf("third subscriber: %v", err)
	}
	cs[0].Unsubscribe(small)
	if _, err := cs[2].Subscribe(ctx, small, SubscribeOptions{}); err != nil {
		t.Fatalf("after a place freed: %v", err)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := cs[2].Subscribe(ctx, mustName(t, n), SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs[2].Subscribe(ctx, mustName(t, "c"), SubscribeOptions{}); !errors.Is(err, ErrTooManyChannels) {
		t.Fatalf("fourth channel: %v", err)
	}
	if _, err := h.Publish(ctx, mustName(t, "a"), []byte("01234567890")); !errors.Is(err, ErrDataTooLarge) {
		t.Fatalf("11 bytes: %v", err)
	}
	if _, err := h.Publish(ctx, mustName(t, "a"), []byte("0123456789")); err != nil {
		t.Fatalf("10 bytes: %v", err)
	}
	if _, err := h.SendToUser("u", []byte("01234567890")); !errors.Is(err, ErrDataTooLarge) {
		t.Fatalf("11-byte DM: %v", err)
	}
}

func TestDropsByReason(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	ch := mustName(t, "general")
	reasons := []error{nil, ErrSubscriberOverloaded, ErrSubscriberClosed, errors.New("boom")}
	for i, err := range reasons {
		s := newSink(uint64(i), "u")
		s.setErr(err)
		c := h.Connect(s)
		defer c.Close()
		c.Subscribe(ctx, ch, SubscribeOptions{})
	}
	res, err := h.Publish(ctx, ch, []byte(`1`))
	if err != nil || res.Delivered != 1 {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	st := h.Stats()
	if st.Deliveries != 1 || st.Drops != (Drops{Overloaded: 1, Closed: 1, Failed: 1}) || st.Publications != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestEncoderErrorIsReported(t *testing.T) {
	h := newTestHub(t, Config{Encoder: EncoderFunc(func([]byte, *Message) ([]byte, error) {
		return nil, errors.New("too large for a packet")
	})})
	c := h.Connect(newSink(1, "u"))
	defer c.Close()
	ch := mustName(t, "general")
	c.Subscribe(t.Context(), ch, SubscribeOptions{})
	if _, err := h.Publish(t.Context(), ch, []byte(`1`)); err == nil {
		t.Fatal("no error")
	}
	if st := h.Stats(); st.EncodeErrors != 1 || st.Deliveries != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestOnBehalfOfUsers: PublishAs and SendToUserAs apply a user's rules
// without a Client, and Subscribers counts a channel's connections here.
func TestOnBehalfOfUsers(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	lobby := mustName(t, "room:lobby")
	s1, s2 := newSink(1, "1"), newSink(2, "")
	c1, c2 := h.Connect(s1), h.Connect(s2)
	defer c1.Close()
	defer c2.Close()
	if n := h.Subscribers(lobby); n != 0 {
		t.Fatalf("Subscribers before = %d", n)
	}
	if _, err := c1.Subscribe(ctx, lobby, SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Subscribe(ctx, lobby, SubscribeOptions{Server: true}); err != nil {
		t.Fatal(err)
	}
	if n := h.Subscribers(lobby); n != 2 {
		t.Fatalf("Subscribers = %d, want 2", n)
	}
	res, err := h.PublishAs(ctx, "2", lobby, []byte(`"hi"`))
	if err != nil || res.Delivered != 2 {
		t.Fatalf("PublishAs = %+v, %v", res, err)
	}
	if got := s1.take(t); len(got) != 1 || got[0].From != "2" {
		t.Fatalf("got %+v, want one publication from 2", got)
	}
	if _, err := h.PublishAs(ctx, "", lobby, []byte(`1`)); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("anonymous PublishAs: %v", err)
	}
	if _, err := h.PublishAs(ctx, "1", mustName(t, "user:1"), []byte(`1`)); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("PublishAs to a server-only channel: %v", err)
	}
	if n, err := h.SendToUserAs("2", "1", []byte(`"dm"`)); err != nil || n != 1 {
		t.Fatalf("SendToUserAs = %d, %v", n, err)
	}
	if got := s1.take(t); len(got) != 1 || got[0].Kind != KindDirect || got[0].From != "2" {
		t.Fatalf("got %+v, want a DM from 2", got)
	}
	if _, err := h.SendToUserAs("", "1", []byte(`1`)); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("anonymous SendToUserAs: %v", err)
	}
}

// TestStatsAdd: Add sums every count.
func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, func() Stats {
		var s Stats
		statstest.Fill(&s)
		return s
	}, (*Stats).Add)
}
