package channels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// events returns the join and leave events among msgs as "join 7" strings.
func events(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Kind == KindJoin || m.Kind == KindLeave {
			out = append(out, m.Kind.String()+" "+m.User)
		}
	}
	return out
}

func TestPresenceCountsUsersNotConnections(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	room := mustName(t, "room:lobby")
	watcher := newSink(1, "1")
	cw := h.Connect(watcher)
	defer cw.Close()
	if _, err := cw.Subscribe(ctx, room, SubscribeOptions{JoinLeave: true}); err != nil {
		t.Fatal(err)
	}
	// Bob has two tabs; an anonymous connection may not subscribe to
	// room:*, so a server-side subscription stands for one.
	tab1, tab2 := h.Connect(newSink(2, "2")), h.Connect(newSink(3, "2"))
	anon := h.Connect(newSink(4, ""))
	defer anon.Close()
	tab1.Subscribe(ctx, room, SubscribeOptions{})
	tab2.Subscribe(ctx, room, SubscribeOptions{})
	if _, err := anon.Subscribe(ctx, room, SubscribeOptions{Server: true}); err != nil {
		t.Fatal(err)
	}

	want := []Member{{User: "1", Conns: 1}, {User: "2", Conns: 2}}
	got, err := h.Presence(ctx, room)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Presence = %v, %v; want %v", got, err, want)
	}
	if got, _ := cw.Presence(ctx, room); !slices.Equal(got, want) {
		t.Fatalf("Client.Presence = %v", got)
	}
	if st := h.Stats(); st.Members != 2 || st.Subscriptions != 4 || st.Joins != 2 {
		t.Fatalf("Stats = %+v", st)
	}
	// The watcher saw its own join and Bob's first tab, not his second.
	if got := events(watcher.take(t)); !slices.Equal(got, []string{"join 1", "join 2"}) {
		t.Fatalf("events = %v", got)
	}

	tab1.Close()
	if got := events(watcher.take(t)); len(got) != 0 {
		t.Fatalf("closing one of two tabs sent %v", got)
	}
	if got, _ := h.Presence(ctx, room); !slices.Equal(got, []Member{{"1", 1}, {"2", 1}}) {
		t.Fatalf("Presence = %v", got)
	}
	tab2.Unsubscribe(room)
	tab2.Close()
	if got := events(watcher.take(t)); !slices.Equal(got, []string{"leave 2"}) {
		t.Fatalf("events = %v", got)
	}
	if st := h.Stats(); st.Members != 1 || st.Leaves != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestJoinLeaveOnlyForListeners(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	room := mustName(t, "room:x")
	quiet, loud := newSink(1, "1"), newSink(2, "2")
	cq, cl := h.Connect(quiet), h.Connect(loud)
	defer cq.Close()
	defer cl.Close()
	cq.Subscribe(ctx, room, SubscribeOptions{})
	cl.Subscribe(ctx, room, SubscribeOptions{JoinLeave: true})
	c3 := h.Connect(newSink(3, "3"))
	c3.Subscribe(ctx, room, SubscribeOptions{})
	c3.Close()
	if got := events(quiet.take(t)); len(got) != 0 {
		t.Fatalf("a subscriber that did not ask got %v", got)
	}
	if got := events(loud.take(t)); !slices.Equal(got, []string{"join 2", "join 3", "leave 3"}) {
		t.Fatalf("listener got %v", got)
	}
}

func TestPresenceOffNamespace(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	c := h.Connect(newSink(1, "1"))
	defer c.Close()
	general := mustName(t, "general")
	if _, err := c.Subscribe(ctx, general, SubscribeOptions{JoinLeave: true}); !errors.Is(err, ErrNoJoinLeave) {
		t.Fatalf("JoinLeave where off: %v", err)
	}
	c.Subscribe(ctx, general, SubscribeOptions{})
	if _, err := h.Presence(ctx, general); !errors.Is(err, ErrNoPresence) {
		t.Fatalf("Presence where off: %v", err)
	}
	if st := h.Stats(); st.Members != 0 {
		t.Fatalf("Members = %d", st.Members)
	}
}

type fixedPresence []Member

// fakeTracker is a PresenceTracker whose "other nodes" are a set the test
// fills; it records the Track calls.
type fakeTracker struct {
	mu     sync.Mutex          // guards the fields below
	remote map[string][]Member // channel -> members on other nodes
	calls  []string            // "channel user conns"
}

func (f *fakeTracker) Track(channel, user string, conns int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s %s %d", channel, user, conns))
	return !slices.ContainsFunc(f.remote[channel], func(m Member) bool { return m.User == user })
}

func (f *fakeTracker) Members(ctx context.Context, channel string) ([]Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.remote[channel]), nil
}

func (f *fakeTracker) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// recordBroker is a Broker that records the kinds it is given.
type recordBroker struct {
	mu    sync.Mutex // guards kinds
	kinds []Kind
}

func (b *recordBroker) Bind(Receiver) {}
func (b *recordBroker) Publish(m *Message) error {
	b.mu.Lock()
	b.kinds = append(b.kinds, m.Kind)
	b.mu.Unlock()
	return nil
}

// TestPresenceTracker checks the seam of a cluster's presence: every
// change is tracked with the connection count, join and leave events are
// sent only when the tracker says the user came or went cluster-wide, and
// they are not forwarded to the broker (the tracker carries presence).
func TestPresenceTracker(t *testing.T) {
	ctx := t.Context()
	room := mustName(t, "room:lobby")
	tr := &fakeTracker{remote: map[string][]Member{"room:lobby": {{User: "9", Conns: 1}}}}
	br := &recordBroker{}
	h := newTestHub(t, Config{Presence: tr, Broker: br})

	watcher := newSink(1, "1")
	cw := h.Connect(watcher)
	defer cw.Close()
	cw.Subscribe(ctx, room, SubscribeOptions{JoinLeave: true})
	// User 9 is on another node: its connections here send no join.
	nine1, nine2 := h.Connect(newSink(2, "9")), h.Connect(newSink(3, "9"))
	nine1.Subscribe(ctx, room, SubscribeOptions{})
	nine2.Subscribe(ctx, room, SubscribeOptions{})
	if got := events(watcher.take(t)); !slices.Equal(got, []string{"join 1"}) {
		t.Fatalf("events = %v, want only the watcher's own join", got)
	}
	nine1.Close()
	nine2.Close()
	if got := events(watcher.take(t)); len(got) != 0 {
		t.Fatalf("user 9 left this node but not the cluster, yet: %v", got)
	}
	want := []string{"room:lobby 1 1", "room:lobby 9 1", "room:lobby 9 2", "room:lobby 9 1", "room:lobby 9 0"}
	if got := tr.take(); !slices.Equal(got, want) {
		t.Fatalf("Track calls = %v, want %v", got, want)
	}
	// Presence answers from the tracker; the Hub's own table is local.
	if got, _ := h.Presence(ctx, room); !slices.Equal(got, []Member{{"9", 1}}) {
		t.Fatalf("Presence = %v", got)
	}
	if got := h.LocalMembers(room); !slices.Equal(got, []Member{{"1", 1}}) {
		t.Fatalf("LocalMembers = %v", got)
	}
	cw.Close()
	if got := tr.take(); !slices.Equal(got, []string{"room:lobby 1 0"}) {
		t.Fatalf("Track calls = %v", got)
	}
	if st := h.Stats(); st.Joins != 1 || st.Leaves != 1 || st.Members != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if len(br.kinds) != 0 {
		t.Fatalf("broker got %v; join and leave travel with the tracker", br.kinds)
	}
}
