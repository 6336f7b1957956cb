package cluster

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"wharf/channels"
)

var vt0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const testDead = 3 * time.Second

func alive(node string, inc, seq uint64) *ctlMsg {
	return &ctlMsg{typ: ctlAlive, node: node, inc: inc, seq: seq, deadAfter: testDead, conns: -1}
}

func delta(node string, inc, seq uint64, es ...entry) *ctlMsg {
	return &ctlMsg{typ: ctlDelta, node: node, inc: inc, seq: seq, entries: es}
}

func snap(node string, inc, seq, part uint64, last bool, es ...entry) *ctlMsg {
	return &ctlMsg{typ: ctlSnapshot, node: node, inc: inc, seq: seq, part: part, last: last, entries: es}
}

// evs renders events as "join room:x 7".
func evs(ms []channels.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%v %s %s", m.Kind, m.Channel, m.User))
	}
	return out
}

func wantEvents(t *testing.T, v *view, want ...string) {
	t.Helper()
	if got := evs(v.takeEvents()); !slices.Equal(got, want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
}

// wantSyncs checks the syncs asked, as "name/inc".
func wantSyncs(t *testing.T, v *view, want ...string) {
	t.Helper()
	var got []string
	for _, id := range v.takeSyncs() {
		got = append(got, fmt.Sprintf("%s/%d", id.name, id.inc))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("syncs = %q, want %q", got, want)
	}
}

func wantMembers(t *testing.T, v *view, ch string, want ...channels.Member) {
	t.Helper()
	if got := v.members(ch); !slices.Equal(got, want) {
		t.Fatalf("members(%s) = %v, want %v", ch, got, want)
	}
}

func TestViewSyncThenDeltas(t *testing.T) {
	v := newView()
	now := vt0
	v.heartbeat(alive("a", 1, 2), now)
	wantSyncs(t, v, "a/1")
	// A delta arriving before the snapshot waits for it.
	v.delta(delta("a", 1, 3, entry{"room:x", "8", 1}), now)
	wantSyncs(t, v) // asked already
	v.snapshotPart(snap("a", 1, 2, 0, false, entry{"room:x", "7", 2}), now)
	wantEvents(t, v)
	v.snapshotPart(snap("a", 1, 2, 1, true, entry{"room:y", "7", 1}), now)
	wantEvents(t, v, "join room:x 7", "join room:y 7", "join room:x 8")
	wantMembers(t, v, "room:x", channels.Member{User: "7", Conns: 2}, channels.Member{User: "8", Conns: 1})
	// In sync: deltas apply in order; an old one is ignored.
	v.delta(delta("a", 1, 4, entry{"room:x", "7", 0}), now)
	v.delta(delta("a", 1, 3, entry{"room:x", "9", 5}), now)
	wantEvents(t, v, "leave room:x 7")
	wantMembers(t, v, "room:x", channels.Member{User: "8", Conns: 1})
	v.heartbeat(alive("a", 1, 4), now)
	wantSyncs(t, v)
}

func TestViewGapResyncs(t *testing.T) {
	v := newView()
	now := vt0
	v.heartbeat(alive("a", 1, 0), now)
	v.snapshotPart(snap("a", 1, 0, 0, true), now)
	wantSyncs(t, v, "a/1")
	v.delta(delta("a", 1, 1, entry{"room:x", "7", 1}), now)
	wantEvents(t, v, "join room:x 7")
	// Delta 2 is lost; 3 shows the gap.
	v.delta(delta("a", 1, 3, entry{"room:x", "8", 1}), now)
	wantSyncs(t, v, "a/1")
	// The snapshot as of 2 includes delta 2's change (7 left); delta 3
	// was buffered and applies on top.
	v.snapshotPart(snap("a", 1, 2, 0, true), now)
	wantEvents(t, v, "leave room:x 7", "join room:x 8")
	wantMembers(t, v, "room:x", channels.Member{User: "8", Conns: 1})
	// A heartbeat announcing a delta never received resyncs too.
	v.heartbeat(alive("a", 1, 4), now.Add(time.Second))
	wantSyncs(t, v, "a/1")
	// Until the snapshot comes, heartbeats ask again about once per
	// heartbeat (a third of deadAfter), not at every message.
	v.heartbeat(alive("a", 1, 4), now.Add(1500*time.Millisecond))
	wantSyncs(t, v)
	v.heartbeat(alive("a", 1, 4), now.Add(2*time.Second))
	wantSyncs(t, v, "a/1")
}

func TestViewSnapshotPartsOutOfOrder(t *testing.T) {
	v := newView()
	v.heartbeat(alive("a", 1, 5), vt0)
	wantSyncs(t, v, "a/1")
	v.snapshotPart(snap("a", 1, 5, 1, true, entry{"room:x", "7", 1}), vt0) // part 0 missing
	wantEvents(t, v)
	if v.peers[nodeID{"a", 1}].synced {
		t.Fatal("synced on a snapshot missing its first part")
	}
	// A snapshot of another incarnation is not this peer's.
	v.snapshotPart(snap("a", 2, 5, 0, true, entry{"room:x", "7", 1}), vt0)
	wantEvents(t, v)
	v.snapshotPart(snap("a", 1, 5, 0, true, entry{"room:x", "7", 1}), vt0)
	wantEvents(t, v, "join room:x 7")
}

func TestViewExpiryAndBye(t *testing.T) {
	v := newView()
	for _, p := range []string{"a", "b"} {
		v.heartbeat(alive(p, 1, 0), vt0)
		v.snapshotPart(snap(p, 1, 0, 0, true, entry{"room:x", "7", 1}, entry{"room:x", p, 1}), vt0)
	}
	v.takeSyncs()
	wantEvents(t, v, "join room:x 7", "join room:x a", "join room:x b")
	wantMembers(t, v, "room:x", channels.Member{User: "7", Conns: 2}, channels.Member{User: "a", Conns: 1}, channels.Member{User: "b", Conns: 1})
	// b keeps beating; a falls silent and is dropped once deadAfter has
	// passed, not before. User 7 stays: b has them too.
	v.heartbeat(alive("b", 1, 0), vt0.Add(testDead))
	if dead := v.expire(vt0.Add(testDead)); len(dead) != 0 {
		t.Fatalf("expired %v at exactly deadAfter", dead)
	}
	if dead := v.expire(vt0.Add(testDead + time.Millisecond)); !slices.Equal(dead, []nodeID{{"a", 1}}) {
		t.Fatalf("expired %v", dead)
	}
	wantEvents(t, v, "leave room:x a")
	wantMembers(t, v, "room:x", channels.Member{User: "7", Conns: 1}, channels.Member{User: "b", Conns: 1})
	// A goodbye drops b at once; one from a stale incarnation does not.
	v.bye(&ctlMsg{typ: ctlBye, node: "b", inc: 9}, vt0)
	wantEvents(t, v)
	v.bye(&ctlMsg{typ: ctlBye, node: "b", inc: 1}, vt0)
	wantEvents(t, v, "leave room:x 7", "leave room:x b")
	if len(v.peers) != 0 || len(v.sum) != 0 || v.lost != 1 {
		t.Fatalf("peers %v, sum %v, lost %d", v.peers, v.sum, v.lost)
	}
}

// TestViewTwoIncarnations: two incarnations of one name (a worker's old
// generation draining after a reload, and the new one) are two nodes,
// each with its presence, synced and dropped on its own.
func TestViewTwoIncarnations(t *testing.T) {
	v := newView()
	v.heartbeat(alive("a", 1, 0), vt0)
	v.snapshotPart(snap("a", 1, 0, 0, true, entry{"room:x", "7", 1}), vt0)
	wantSyncs(t, v, "a/1")
	wantEvents(t, v, "join room:x 7")
	v.heartbeat(alive("a", 2, 0), vt0.Add(time.Second))
	wantSyncs(t, v, "a/2")
	// A snapshot for incarnation 1, already in sync, changes nothing.
	v.snapshotPart(snap("a", 1, 0, 0, true), vt0.Add(time.Second))
	v.snapshotPart(snap("a", 2, 0, 0, true, entry{"room:x", "7", 2}, entry{"room:x", "8", 1}), vt0.Add(time.Second))
	wantEvents(t, v, "join room:x 8")
	wantMembers(t, v, "room:x", channels.Member{User: "7", Conns: 3}, channels.Member{User: "8", Conns: 1})
	// The old one says goodbye: the new one's presence stays.
	v.bye(&ctlMsg{typ: ctlBye, node: "a", inc: 1}, vt0.Add(2*time.Second))
	wantEvents(t, v)
	wantMembers(t, v, "room:x", channels.Member{User: "7", Conns: 2}, channels.Member{User: "8", Conns: 1})
	if len(v.peers) != 1 {
		t.Fatalf("peers = %v", v.peers)
	}
}

func TestViewLocalPresence(t *testing.T) {
	v := newView()
	v.heartbeat(alive("a", 1, 0), vt0)
	v.snapshotPart(snap("a", 1, 0, 0, true, entry{"room:x", "7", 1}), vt0)
	v.takeSyncs()
	wantEvents(t, v, "join room:x 7")
	// User 7 joins here too: not new to the cluster.
	if v.track("room:x", "7", 1) {
		t.Fatal("track says a user present on a peer is new to the cluster")
	}
	if !v.track("room:x", "8", 1) {
		t.Fatal("track says a user nowhere else is not new")
	}
	wantMembers(t, v, "room:x", channels.Member{User: "7", Conns: 2}, channels.Member{User: "8", Conns: 1})
	// 7 leaves the peer but is still here: no event.
	v.delta(delta("a", 1, 1, entry{"room:x", "7", 0}), vt0)
	wantEvents(t, v)
	if !v.track("room:x", "7", 0) {
		t.Fatal("the last connection of 7 in the cluster left, and track says otherwise")
	}
	// The pending changes become one numbered delta, the latest count of
	// each pair; a snapshot holds the table as of the last delta taken.
	ds := v.takeDeltas("me", 5, maxCtlEntries)
	want := []ctlMsg{{typ: ctlDelta, node: "me", inc: 5, seq: 1, entries: []entry{{"room:x", "7", 0}, {"room:x", "8", 1}}}}
	if !slices.EqualFunc(ds, want, ctlEqual) {
		t.Fatalf("takeDeltas = %+v", ds)
	}
	if ds := v.takeDeltas("me", 5, maxCtlEntries); ds != nil {
		t.Fatalf("takeDeltas again = %+v", ds)
	}
	parts := v.snapshot("me", 5, maxCtlEntries)
	if len(parts) != 1 || !parts[0].last || parts[0].seq != 1 || !slices.Equal(parts[0].entries, []entry{{"room:x", "8", 1}}) {
		t.Fatalf("snapshot = %+v", parts)
	}
}

func ctlEqual(a, b ctlMsg) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestViewSplits(t *testing.T) {
	v := newView()
	for i := range 100 {
		v.track("room:x", fmt.Sprint(i), 1)
	}
	// Each entry is 1+6+1+2+1 = 11 or 1+6+1+1+1 = 10 bytes: 100 bytes make
	// about 10 per delta.
	ds := v.takeDeltas("me", 1, 100)
	var all []entry
	for i, d := range ds {
		if d.seq != uint64(i+1) {
			t.Fatalf("delta %d numbered %d", i, d.seq)
		}
		size := 0
		for _, e := range d.entries {
			size += entrySize(e)
		}
		if size > 100 {
			t.Fatalf("delta %d has %d bytes of entries", i, size)
		}
		all = append(all, d.entries...)
	}
	if len(all) != 100 || len(ds) < 10 {
		t.Fatalf("%d entries in %d deltas", len(all), len(ds))
	}
	parts := v.snapshot("me", 1, 100)
	if len(parts) != len(ds) || !parts[len(parts)-1].last || parts[0].last || parts[0].seq != v.seq {
		t.Fatalf("%d parts, %d deltas", len(parts), len(ds))
	}
	if parts := newView().snapshot("me", 1, 100); len(parts) != 1 || !parts[0].last || len(parts[0].entries) != 0 {
		t.Fatalf("empty snapshot = %+v", parts)
	}
}

// TestViewConvergesOverLossyNetwork is a model test: node A changes its
// presence at random and its messages to B are lost, delayed and
// reordered at random (but A's own subject keeps A's order, as NATS
// does). Once the network heals and a heartbeat passes, B's copy of A
// must equal A's table, and the join and leave events B delivered must
// leave each user present exactly where A has them.
func TestViewConvergesOverLossyNetwork(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			convergeOnce(t, rand.New(rand.NewPCG(seed, 1)))
		})
	}
}

func convergeOnce(t *testing.T, rnd *rand.Rand) {
	a, b := newView(), newView()
	now := vt0
	var (
		onNode  []ctlMsg // A's subject, in order
		inbox   []ctlMsg // snapshot parts to B, in order
		present = map[pair]bool{}
	)
	deliverEvents := func() {
		for _, m := range b.takeEvents() {
			present[pair{m.Channel, m.User}] = m.Kind == channels.KindJoin
		}
	}
	step := func(lossy bool) {
		now = now.Add(10 * time.Millisecond)
		switch r := rnd.IntN(10); {
		case r < 4:
			a.track(fmt.Sprint("room:", rnd.IntN(3)), fmt.Sprint(rnd.IntN(4)), int32(rnd.IntN(3)))
		case r < 6:
			onNode = append(onNode, a.takeDeltas("a", 1, 30)...)
		case r < 7:
			onNode = append(onNode, ctlMsg{typ: ctlAlive, node: "a", inc: 1, seq: a.seq, deadAfter: time.Hour})
		}
		// Deliver some of what is in flight; lose some if lossy.
		for len(onNode) > 0 && rnd.IntN(2) == 0 {
			c := onNode[0]
			onNode = onNode[1:]
			if lossy && rnd.IntN(4) == 0 {
				continue
			}
			if c.typ == ctlAlive {
				b.heartbeat(&c, now)
			} else {
				b.delta(&c, now)
			}
		}
		for _, name := range b.takeSyncs() {
			if name != (nodeID{"a", 1}) {
				t.Fatalf("sync asked of %v", name)
			}
			inbox = append(inbox, a.snapshot("a", 1, 30)...)
		}
		for len(inbox) > 0 && rnd.IntN(3) == 0 {
			c := inbox[0]
			inbox = inbox[1:]
			if lossy && rnd.IntN(6) == 0 {
				continue
			}
			b.snapshotPart(&c, now)
		}
		deliverEvents()
	}
	for range 300 {
		step(true)
	}
	// Heal: flush everything, beat, answer syncs until quiet.
	for range 100 {
		onNode = append(onNode, a.takeDeltas("a", 1, 30)...)
		onNode = append(onNode, ctlMsg{typ: ctlAlive, node: "a", inc: 1, seq: a.seq, deadAfter: time.Hour})
		now = now.Add(time.Hour / 2) // a third of deadAfter: syncs are due again
		for _, c := range onNode {
			if c.typ == ctlAlive {
				b.heartbeat(&c, now)
			} else {
				b.delta(&c, now)
			}
		}
		onNode = nil
		for _, name := range b.takeSyncs() {
			_ = name
			inbox = append(inbox, a.snapshot("a", 1, 30)...)
		}
		for _, c := range inbox {
			b.snapshotPart(&c, now)
		}
		inbox = nil
		deliverEvents()
		if p := b.peers[nodeID{"a", 1}]; p != nil && p.synced && p.applied == a.seq {
			break
		}
	}
	p := b.peers[nodeID{"a", 1}]
	if p == nil || !p.synced {
		t.Fatalf("B never synced with A: %+v", p)
	}
	if !tablesEqual(p.table, a.local) || !tablesEqual(b.sum, a.local) {
		t.Fatalf("B's copy %v, sum %v; A has %v", p.table, b.sum, a.local)
	}
	for k, in := range present {
		if in != (a.local.get(k.channel, k.user) > 0) {
			t.Fatalf("events leave %v present=%v; A has %d", k, in, a.local.get(k.channel, k.user))
		}
	}
	for ch, users := range a.local {
		for u := range users {
			if !present[pair{ch, u}] {
				t.Fatalf("no join event for %s %s", ch, u)
			}
		}
	}
}

func tablesEqual(x, y table) bool {
	return maps.EqualFunc(x, y, func(a, b map[string]int32) bool { return maps.Equal(a, b) })
}
