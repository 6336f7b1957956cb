package cluster

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"wharf/channels"
)

// view is a node's picture of the cluster's presence: its own connections,
// from the Hub's Track calls, and each peer's, from what the peer
// announces. It is a state machine without I/O and without a clock: the
// Node passes the time in, sends what it returns (deltas, snapshots), and
// carries out what it queues (syncs to ask for, join and leave events to
// deliver). Owned by a Node and guarded by its mu.
//
// How a peer's table is kept (SPEC.md has the protocol): a peer numbers
// its deltas 1, 2, 3... and says in each heartbeat the number of the last.
// A delta applies only on top of the one before it. A peer seen for the
// first time, a missing delta (found by the next
// delta's number or by a heartbeat's) or a sync left unanswered make the
// view ask the peer for a snapshot, buffer the deltas that arrive
// meanwhile, and, when the snapshot comes, replace the peer's table with
// it and apply the buffered deltas numbered after it. Deltas carry counts,
// not increments, so applying one that the snapshot already includes does
// no harm.
type view struct {
	local   table              // this node's presence
	pending map[pair]int32     // local changes not yet announced: the latest count of each pair
	seq     uint64             // the number of the last delta taken (takeDeltas)
	peers   map[nodeID]*peer   // by name and incarnation
	sum     table              // the peers' tables summed
	events  []channels.Message // join and leave events to deliver, oldest first
	syncs   []nodeID           // peers to ask for a snapshot
	lost    uint64             // peers removed by expire
	asked   uint64             // snapshots asked for
}

// nodeID identifies a node: its name and its incarnation. Two
// incarnations of one name are two nodes: a restarted node (the old one
// goes with its goodbye, or its DeadAfter after a kill), or the old and new
// generations of a wharfd worker while the old one drains after a reload.
type nodeID struct {
	name string
	inc  uint64
}

// pair is a (channel, user) presence entry's key.
type pair struct{ channel, user string }

// table counts connections per channel and user; zero counts are not kept.
type table map[string]map[string]int32

func (t table) get(ch, user string) int32 { return t[ch][user] }

// set stores n and returns the count it replaced.
func (t table) set(ch, user string, n int32) (old int32) {
	users := t[ch]
	old = users[user]
	switch {
	case n == old:
	case n == 0:
		delete(users, user)
		if len(users) == 0 {
			delete(t, ch)
		}
	default:
		if users == nil {
			users = map[string]int32{}
			t[ch] = users
		}
		users[user] = n
	}
	return old
}

// peer is what the view knows of another node.
type peer struct {
	id        nodeID
	deadAfter time.Duration // its announced liveness bound
	started   int64         // its start, Unix ms
	conns     int64         // its open connections, as announced (-1 unknown)
	lastSeen  time.Time     // its last heartbeat or delta

	synced   bool      // table is complete through delta applied
	applied  uint64    // the number of the last delta in table
	askedAt  time.Time // when a snapshot was last asked for (zero: not since the last sync)
	buffered []ctlMsg  // deltas that arrived while not synced
	parts    *parts    // the snapshot being received, if any
	table    table
}

// parts is a snapshot being put together from its parts.
type parts struct {
	seq     uint64
	next    uint64 // the part expected next
	entries []entry
}

// maxBuffered bounds the deltas kept while waiting for a snapshot; beyond
// it the view forgets them, and the snapshot that comes will be followed
// by a gap, and a new sync.
const maxBuffered = 1024

func newView() *view {
	return &view{local: table{}, pending: map[pair]int32{}, peers: map[nodeID]*peer{}, sum: table{}}
}

// track records that user has conns connections of this node in channel,
// and reports whether that makes the user appear in or disappear from the
// channel cluster-wide (channels.PresenceTracker.Track).
func (v *view) track(ch, user string, conns int32) bool {
	v.local.set(ch, user, conns)
	v.pending[pair{ch, user}] = conns
	return v.sum.get(ch, user) == 0
}

// takeDeltas returns the pending changes as deltas of at most maxBytes of
// entries each, numbered on from v.seq, and forgets them.
func (v *view) takeDeltas(self string, inc uint64, maxBytes int) []ctlMsg {
	if len(v.pending) == 0 {
		return nil
	}
	entries := make([]entry, 0, len(v.pending))
	for k, n := range v.pending {
		entries = append(entries, entry{channel: k.channel, user: k.user, conns: n})
	}
	clear(v.pending)
	sortEntries(entries)
	var out []ctlMsg
	for _, chunk := range splitEntries(entries, maxBytes) {
		v.seq++
		out = append(out, ctlMsg{typ: ctlDelta, node: self, inc: inc, seq: v.seq, entries: chunk})
	}
	return out
}

// snapshot returns this node's table as snapshot parts of at most
// maxBytes of entries each, as of delta v.seq. It includes the pending
// changes, which the next delta repeats.
func (v *view) snapshot(self string, inc uint64, maxBytes int) []ctlMsg {
	var entries []entry
	for ch, users := range v.local {
		for u, n := range users {
			entries = append(entries, entry{channel: ch, user: u, conns: n})
		}
	}
	sortEntries(entries)
	chunks := splitEntries(entries, maxBytes)
	if len(chunks) == 0 {
		chunks = [][]entry{{}}
	}
	out := make([]ctlMsg, len(chunks))
	for i, c := range chunks {
		out[i] = ctlMsg{typ: ctlSnapshot, node: self, inc: inc, seq: v.seq, part: uint64(i), last: i == len(chunks)-1, entries: c}
	}
	return out
}

func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.channel, b.channel), strings.Compare(a.user, b.user))
	})
}

// splitEntries cuts es into runs of at most maxBytes on the wire (one
// entry at least per run).
func splitEntries(es []entry, maxBytes int) [][]entry {
	var out [][]entry
	start, size := 0, 0
	for i, e := range es {
		n := entrySize(e)
		if i > start && size+n > maxBytes {
			out = append(out, es[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(es) {
		out = append(out, es[start:])
	}
	return out
}

// heartbeat handles a peer's hello or alive.
func (v *view) heartbeat(c *ctlMsg, now time.Time) {
	p := v.peerOf(c, now)
	p.deadAfter, p.started, p.conns = c.deadAfter, c.started, c.conns
	if p.synced && c.seq > p.applied {
		v.desync(p, now) // a delta went missing
		return
	}
	v.askIfDue(p, now)
}

// delta handles a peer's presence delta.
func (v *view) delta(c *ctlMsg, now time.Time) {
	p := v.peerOf(c, now)
	switch {
	case !p.synced:
		v.buffer(p, c)
		v.askIfDue(p, now)
	case c.seq <= p.applied: // already in the table
	case c.seq == p.applied+1:
		v.apply(p, c.entries, now)
		p.applied = c.seq
	default: // a gap
		v.desync(p, now)
		v.buffer(p, c)
	}
}

// snapshotPart handles one part of a snapshot a peer sent in answer to a
// sync. Parts of an unknown peer, or of a peer already in sync, are
// dropped; so is a snapshot whose parts come out of order (the next
// heartbeat asks again).
func (v *view) snapshotPart(c *ctlMsg, now time.Time) {
	p := v.peers[nodeID{c.node, c.inc}]
	if p == nil || p.synced {
		return
	}
	p.lastSeen = now
	if c.part == 0 {
		p.parts = &parts{seq: c.seq}
	}
	if p.parts == nil || p.parts.seq != c.seq || p.parts.next != c.part {
		p.parts = nil
		return
	}
	p.parts.entries = append(p.parts.entries, c.entries...)
	p.parts.next++
	if !c.last {
		return
	}
	snap := p.parts
	p.parts = nil
	// Replace the table: pairs the snapshot lacks go to zero.
	fresh := table{}
	for _, e := range snap.entries {
		fresh.set(e.channel, e.user, e.conns)
	}
	var gone []entry
	for ch, users := range p.table {
		for u := range users {
			if fresh.get(ch, u) == 0 {
				gone = append(gone, entry{channel: ch, user: u})
			}
		}
	}
	sortEntries(gone)
	v.apply(p, gone, now)
	v.apply(p, snap.entries, now)
	p.applied, p.synced, p.askedAt = snap.seq, true, time.Time{}
	buffered := p.buffered
	p.buffered = nil
	for i := range buffered {
		d := &buffered[i]
		switch {
		case d.seq <= p.applied:
		case d.seq == p.applied+1:
			v.apply(p, d.entries, now)
			p.applied = d.seq
		default:
			v.desync(p, now)
			p.buffered = append(p.buffered, buffered[i:]...)
			return
		}
	}
}

// bye handles a peer's goodbye: its presence goes at once.
func (v *view) bye(c *ctlMsg, now time.Time) {
	if p := v.peers[nodeID{c.node, c.inc}]; p != nil {
		v.remove(p, now)
	}
}

// expire removes the peers silent for longer than their deadAfter, and
// returns them.
func (v *view) expire(now time.Time) []nodeID {
	var dead []nodeID
	for id, p := range v.peers {
		if now.Sub(p.lastSeen) > p.deadAfter {
			dead = append(dead, id)
		}
	}
	slices.SortFunc(dead, compareIDs)
	for _, id := range dead {
		v.remove(v.peers[id], now)
		v.lost++
	}
	return dead
}

func compareIDs(a, b nodeID) int {
	return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.inc, b.inc))
}

// peerOf returns the peer that sent c, made if new, and marks it seen.
func (v *view) peerOf(c *ctlMsg, now time.Time) *peer {
	id := nodeID{c.node, c.inc}
	p := v.peers[id]
	if p == nil {
		p = &peer{id: id, deadAfter: c.deadAfter, conns: -1, table: table{}}
		v.peers[id] = p
	}
	if c.deadAfter > 0 {
		p.deadAfter = c.deadAfter
	}
	if p.deadAfter <= 0 {
		p.deadAfter = DefaultHeartbeat * DefaultDeadBeats // a delta before any heartbeat
	}
	p.lastSeen = now
	return p
}

// remove forgets p, its presence with it.
func (v *view) remove(p *peer, now time.Time) {
	var gone []entry
	for ch, users := range p.table {
		for u := range users {
			gone = append(gone, entry{channel: ch, user: u})
		}
	}
	sortEntries(gone)
	v.apply(p, gone, now)
	delete(v.peers, p.id)
}

// desync marks p as needing a snapshot and asks for one.
func (v *view) desync(p *peer, now time.Time) {
	p.synced, p.askedAt, p.parts = false, time.Time{}, nil
	v.askIfDue(p, now)
}

// askIfDue queues a sync request to p if it is not in sync and none was
// asked for in the last third of its deadAfter (about a heartbeat).
func (v *view) askIfDue(p *peer, now time.Time) {
	if p.synced || (!p.askedAt.IsZero() && now.Sub(p.askedAt) < p.deadAfter/3) {
		return
	}
	p.askedAt = now
	v.asked++
	v.syncs = append(v.syncs, p.id)
}

func (v *view) buffer(p *peer, c *ctlMsg) {
	if len(p.buffered) >= maxBuffered {
		p.buffered = p.buffered[:0] // the snapshot will be followed by a gap: a new sync
	}
	p.buffered = append(p.buffered, *c)
}

// apply sets p's counts of the entries' pairs, keeps sum, and queues a
// join or leave event for each pair whose user appears in or disappears
// from the cluster (this node's connections included).
func (v *view) apply(p *peer, es []entry, now time.Time) {
	for _, e := range es {
		old := p.table.set(e.channel, e.user, e.conns)
		if old == e.conns {
			continue
		}
		before := v.sum.get(e.channel, e.user)
		after := before - old + e.conns
		v.sum.set(e.channel, e.user, after)
		if v.local.get(e.channel, e.user) > 0 || (before > 0) == (after > 0) {
			continue
		}
		kind := channels.KindJoin
		if after == 0 {
			kind = channels.KindLeave
		}
		v.events = append(v.events, channels.Message{Kind: kind, Channel: e.channel, User: e.user, Time: now.UnixMilli()})
	}
}

// members returns the channel's members in the cluster, sorted by user.
func (v *view) members(ch string) []channels.Member {
	local, remote := v.local[ch], v.sum[ch]
	out := make([]channels.Member, 0, len(local)+len(remote))
	for u, n := range local {
		out = append(out, channels.Member{User: u, Conns: int(n + remote[u])})
	}
	for u, n := range remote {
		if local[u] == 0 {
			out = append(out, channels.Member{User: u, Conns: int(n)})
		}
	}
	slices.SortFunc(out, func(a, b channels.Member) int { return strings.Compare(a.User, b.User) })
	return out
}

// takeEvents returns the queued events and forgets them.
func (v *view) takeEvents() []channels.Message {
	ev := v.events
	v.events = nil
	return ev
}

// takeSyncs returns the peers to ask for a snapshot and forgets them.
func (v *view) takeSyncs() []nodeID {
	s := v.syncs
	v.syncs = nil
	return s
}

// entries counts the pairs of t.
func (t table) entries() int {
	n := 0
	for _, users := range t {
		n += len(users)
	}
	return n
}
