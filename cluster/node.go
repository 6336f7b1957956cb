package cluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"wharf/channels"
	"wharf/internal/subject"
	"wharf/server"
)

// Node is one wharf node's link to the cluster over NATS: the Broker that
// carries its Hub's publications and direct messages to the other nodes,
// and the cluster-wide Presence, with node liveness, that its Hub tracks
// its own presence into. Pass it to channels.NewHub as both:
//
//	node, err := cluster.New(cluster.Config{URL: "nats://127.0.0.1:4222", NodeName: "a"})
//	hub, err := channels.NewHub(channels.Config{Encoder: enc, Broker: node, Presence: node, History: sqlHistory})
//	defer node.Close() // after the server using the hub has stopped
//
// Its methods are safe for concurrent use. It runs two goroutines of its
// own (one writes publications to the connection, one announces presence
// and heartbeats, drops silent nodes and delivers join and leave events),
// plus nats.go's; Close stops them.
type Node struct {
	cfg     Config
	inc     uint64    // this incarnation: random, non-zero, new at each New
	started time.Time // when New ran
	subj    subjects
	inbox   string // where snapshots for this node arrive
	nc      *nats.Conn
	subs    []*nats.Subscription // set by New, then read-only

	recv      atomic.Pointer[channels.Receiver] // set by Bind
	connected atomic.Bool                       // written by nats.go's connection handlers
	closed    atomic.Bool

	queue chan outMsg   // publications for the sender goroutine
	wake  chan struct{} // wakes the loop goroutine (presence to announce, events, hellos)
	done  chan struct{} // closed by Close: the goroutines stop
	wg    sync.WaitGroup
	close sync.Once

	mu       sync.Mutex // guards the fields below
	view     *view
	sayHello bool // send a hello (after a reconnect)
	answer   bool // send an alive now (a peer said hello)

	ctr counters
	lag server.Histogram
}

var (
	_ channels.Broker          = (*Node)(nil)
	_ channels.PresenceTracker = (*Node)(nil)
)

// outMsg is a publication waiting for the sender goroutine.
type outMsg struct {
	subject string
	data    []byte
}

// maxCtlEntries bounds the bytes of entries in one delta or snapshot
// part, below NATS's default max_payload (1 MiB); a server configured
// lower lowers it.
const maxCtlEntries = 128 << 10

// closeTimeout bounds how long Close waits for the goodbye to be written.
const closeTimeout = 2 * time.Second

// New returns a Node connected, or connecting, to the NATS server at
// cfg.URL. If the server cannot be reached yet, New still returns the
// Node: it keeps trying in the background (logging it), and until it
// connects, publishing fails with ErrNotConnected, so the Hub delivers to
// this node's connections only. New fails on a bad Config or nats.go
// option.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		inc:     newIncarnation(),
		started: cfg.Clock(),
		subj:    newSubjects(cfg.Prefix),
		queue:   make(chan outMsg, cfg.SendQueue),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		view:    newView(),
	}
	n.inbox = n.subj.inbox + cfg.NodeName + "." + strconv.FormatUint(n.inc, 16)
	log := cfg.Logger.With("node", cfg.NodeName)
	opts := append([]nats.Option{
		nats.Name("wharf node " + cfg.NodeName),
		nats.NoEcho(), // this node's own messages are not sent back to it
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectBufSize(-1), // fail publishes while away: no stale burst on return
		nats.PingInterval(max(2*cfg.Heartbeat, time.Second)),
		nats.ConnectHandler(func(nc *nats.Conn) {
			n.connected.Store(true)
			log.Info("cluster: connected to the NATS server", "url", nc.ConnectedUrlRedacted())
			n.hello()
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			n.connected.Store(false)
			if n.closed.Load() {
				return
			}
			n.ctr.disconnects.Add(1)
			log.Warn("cluster: lost the NATS server; delivering to this node only until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.connected.Store(true)
			n.ctr.reconnects.Add(1)
			log.Info("cluster: reconnected to the NATS server", "url", nc.ConnectedUrlRedacted())
			n.hello()
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			if errors.Is(err, nats.ErrSlowConsumer) {
				log.Warn("cluster: slow consumer: messages from other nodes dropped", "subject", subject)
				return
			}
			log.Warn("cluster: NATS error", "subject", subject, "err", err)
		}),
	}, cfg.Options...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	n.nc = nc
	if nc.IsConnected() {
		n.connected.Store(true) // ConnectHandler logs it
	} else {
		log.Warn("cluster: NATS server not reachable yet; delivering to this node only and retrying", "url", RedactURL(cfg.URL))
	}
	for _, s := range []struct {
		subject string
		fn      nats.MsgHandler
	}{
		{n.subj.pub + ">", n.onMessage},
		{n.subj.user + ">", n.onMessage},
		{n.subj.node + "*", n.onControl},
		{n.subj.sync + cfg.NodeName, n.onSync},
		{n.inbox, n.onSnapshot},
	} {
		sub, err := nc.Subscribe(s.subject, s.fn)
		if err == nil {
			err = sub.SetPendingLimits(cfg.PendingLimit, pendingBytes)
		}
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster: subscribe to %s: %w", s.subject, err)
		}
		n.subs = append(n.subs, sub)
	}
	if n.connected.Load() {
		// Once the server has the subscriptions, publications of other
		// nodes reach this one; a failure here is an outage, retried.
		nc.FlushTimeout(cfg.Heartbeat + time.Second)
	}
	n.wg.Add(2)
	go n.sendLoop()
	go n.loop()
	return n, nil
}

func newIncarnation() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:]) // never fails
		if v := binary.BigEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// Name returns the node's name (Config.NodeName).
func (n *Node) Name() string { return n.cfg.NodeName }

// Connected reports whether the node is connected to the NATS server now.
func (n *Node) Connected() bool { return n.connected.Load() }

// Bind implements channels.Broker: messages from other nodes go to r.
// Messages that arrive before Bind are dropped.
func (n *Node) Bind(r channels.Receiver) { n.recv.Store(&r) }

// Publish implements channels.Broker: it queues m for the other nodes, on
// <prefix>.pub.<channel> or, for a direct message, <prefix>.user.<user>.
// It fails at once, without blocking, with ErrNotConnected while the NATS
// server is away, ErrQueueFull, or ErrClosed; the Hub then counts a
// broker error, and its own connections had the message already.
func (n *Node) Publish(m *channels.Message) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if !n.connected.Load() {
		n.ctr.refused.Add(1)
		return ErrNotConnected
	}
	var b []byte
	if m.Kind == channels.KindDirect {
		b = subject.AppendToken([]byte(n.subj.user), m.User)
	} else {
		b = subject.AppendToken([]byte(n.subj.pub), m.Channel)
	}
	o := outMsg{subject: string(b), data: appendEnvelope(make([]byte, 0, envelopeSize(m)), n.inc, n.cfg.Clock().UnixMicro(), m)}
	select {
	case n.queue <- o:
		return nil
	default:
		n.ctr.refused.Add(1)
		return ErrQueueFull
	}
}

// sendLoop writes queued publications to the connection, in order, until
// Close.
func (n *Node) sendLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case o := <-n.queue:
			if err := n.nc.Publish(o.subject, o.data); err != nil {
				n.ctr.refused.Add(1) // the connection went away after Publish checked
				continue
			}
			n.ctr.published.Add(1)
		}
	}
}

// onMessage delivers a publication or direct message of another node.
// nats.go calls it on the subscription's goroutine: one per subject
// family, so one node's messages on a channel arrive in order.
func (n *Node) onMessage(msg *nats.Msg) {
	var m channels.Message
	inc, sent, err := parseEnvelope(msg.Data, &m)
	if err != nil {
		n.ctr.malformed.Add(1)
		return
	}
	if inc == n.inc {
		return // our own, should the server echo it after all
	}
	r := n.recv.Load()
	if r == nil {
		return // before Bind
	}
	n.lag.Observe(max(0, n.cfg.Clock().Sub(time.UnixMicro(sent))))
	n.ctr.received.Add(1)
	(*r).Receive(&m)
}

// onControl handles what another node says about itself.
func (n *Node) onControl(msg *nats.Msg) {
	var c ctlMsg
	if err := c.parse(msg.Data); err != nil || msg.Subject != n.subj.node+c.node {
		n.ctr.malformed.Add(1)
		return
	}
	if c.inc == n.inc {
		return // our own, should the server echo it after all
	}
	now := n.cfg.Clock()
	n.mu.Lock()
	switch c.typ {
	case ctlHello:
		n.view.heartbeat(&c, now)
		n.answer = true
	case ctlAlive:
		n.view.heartbeat(&c, now)
	case ctlDelta:
		n.view.delta(&c, now)
	case ctlBye:
		n.view.bye(&c, now)
	default:
		n.mu.Unlock()
		n.ctr.malformed.Add(1)
		return
	}
	syncs := n.view.takeSyncs()
	n.mu.Unlock()
	n.askSyncs(syncs)
	n.kick()
}

// onSync answers another node's request for this node's presence.
func (n *Node) onSync(msg *nats.Msg) {
	var c ctlMsg
	if err := c.parse(msg.Data); err != nil || c.typ != ctlSync || msg.Reply == "" {
		n.ctr.malformed.Add(1)
		return
	}
	if c.target != n.inc {
		return // for another incarnation of this name (a draining worker, say)
	}
	limit := n.ctlLimit()
	n.mu.Lock()
	parts := n.view.snapshot(n.cfg.NodeName, n.inc, limit)
	n.mu.Unlock()
	for i := range parts {
		if err := n.nc.Publish(msg.Reply, parts[i].appendBinary(nil)); err != nil {
			return // the asker will ask again
		}
	}
}

// onSnapshot takes a part of a snapshot this node asked for.
func (n *Node) onSnapshot(msg *nats.Msg) {
	var c ctlMsg
	if err := c.parse(msg.Data); err != nil || c.typ != ctlSnapshot {
		n.ctr.malformed.Add(1)
		return
	}
	n.mu.Lock()
	n.view.snapshotPart(&c, n.cfg.Clock())
	syncs := n.view.takeSyncs()
	n.mu.Unlock()
	n.askSyncs(syncs)
	n.kick()
}

// askSyncs asks each node for its presence snapshot.
func (n *Node) askSyncs(ids []nodeID) {
	for _, id := range ids {
		c := ctlMsg{typ: ctlSync, node: n.cfg.NodeName, inc: n.inc, target: id.inc}
		n.nc.PublishRequest(n.subj.sync+id.name, n.inbox, c.appendBinary(nil)) // lost while away; asked again
	}
}

// ctlLimit is the most bytes of entries in one control message.
func (n *Node) ctlLimit() int {
	limit := int64(maxCtlEntries)
	if mp := n.nc.MaxPayload(); mp > 0 {
		limit = min(limit, mp/2)
	}
	return int(limit)
}

// hello asks the loop to announce the node with a hello (at start and
// after a reconnect: every other node answers with a heartbeat).
func (n *Node) hello() {
	n.mu.Lock()
	n.sayHello = true
	n.mu.Unlock()
	n.kick()
}

// kick wakes the loop without blocking.
func (n *Node) kick() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// loop announces the node: a hello at start, heartbeats, presence deltas
// (PresenceDelay after the first change), answers to hellos; it drops
// silent nodes at each heartbeat and delivers the join and leave events
// the view queues. It is the only goroutine that publishes on the node's
// own subject, so its deltas and heartbeats leave in number order.
func (n *Node) loop() {
	defer n.wg.Done()
	log := n.cfg.Logger.With("node", n.cfg.NodeName)
	beat := time.NewTicker(n.cfg.Heartbeat)
	defer beat.Stop()
	flush := time.NewTimer(n.cfg.PresenceDelay)
	flush.Stop()
	flushing := false
	n.hello()
	for {
		select {
		case <-n.done:
			return
		case <-beat.C:
			n.flushPresence()
			n.announce(ctlAlive)
			n.mu.Lock()
			dead := n.view.expire(n.cfg.Clock())
			n.mu.Unlock()
			for _, id := range dead {
				log.Warn("cluster: node silent, presumed dead; its presence is dropped", "peer", id.name, "incarnation", strconv.FormatUint(id.inc, 16))
			}
		case <-flush.C:
			flushing = false
			n.flushPresence()
		case <-n.wake:
			n.mu.Lock()
			pending := len(n.view.pending) > 0
			hello, answer := n.sayHello, n.answer
			n.sayHello, n.answer = false, false
			n.mu.Unlock()
			switch {
			case hello:
				n.flushPresence()
				n.announce(ctlHello)
			case answer:
				n.flushPresence()
				n.announce(ctlAlive)
			case pending && !flushing:
				flushing = true
				flush.Reset(n.cfg.PresenceDelay)
			}
		}
		n.emit()
	}
}

// flushPresence announces the pending presence changes.
func (n *Node) flushPresence() {
	limit := n.ctlLimit()
	n.mu.Lock()
	deltas := n.view.takeDeltas(n.cfg.NodeName, n.inc, limit)
	n.mu.Unlock()
	for i := range deltas {
		n.nc.Publish(n.subj.node+n.cfg.NodeName, deltas[i].appendBinary(nil)) // lost while away: the next heartbeat shows the gap
	}
}

// announce publishes a hello or a heartbeat.
func (n *Node) announce(typ ctlType) {
	conns := int64(-1)
	if n.cfg.Connections != nil {
		conns = n.cfg.Connections()
	}
	n.mu.Lock()
	c := ctlMsg{typ: typ, node: n.cfg.NodeName, inc: n.inc, seq: n.view.seq,
		deadAfter: n.cfg.DeadAfter, started: n.started.UnixMilli(), conns: conns}
	n.mu.Unlock()
	n.nc.Publish(n.subj.node+n.cfg.NodeName, c.appendBinary(nil))
}

// emit delivers the queued join and leave events to the Hub, in order,
// holding no lock (Receive takes the channels' locks, under which the Hub
// calls Track).
func (n *Node) emit() {
	n.mu.Lock()
	events := n.view.takeEvents()
	n.mu.Unlock()
	r := n.recv.Load()
	if r == nil {
		return
	}
	for i := range events {
		(*r).Receive(&events[i])
	}
}

// Track implements channels.PresenceTracker: the Hub reports each change
// of this node's presence. It does not block: the change is announced
// within PresenceDelay.
func (n *Node) Track(channel, user string, conns int) bool {
	n.mu.Lock()
	first := len(n.view.pending) == 0
	cluster := n.view.track(channel, user, int32(conns))
	n.mu.Unlock()
	if first {
		n.kick()
	}
	return cluster
}

// Members implements channels.Presence: the channel's members on every
// node this one knows alive, with their connections summed over nodes,
// sorted by user. It answers from memory, without asking the broker.
// Another node's changes show up here within about PresenceDelay plus
// the broker's latency; a dead node's connections within its DeadAfter
// plus one Heartbeat of this node.
func (n *Node) Members(ctx context.Context, channel string) ([]channels.Member, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.view.members(channel), nil
}

// NodeInfo describes a node of the cluster, as Nodes reports it.
type NodeInfo struct {
	Name        string    `json:"name"`
	Incarnation string    `json:"incarnation"` // random at each start (hex): tells a restarted node, or a reloaded worker, from the one before
	Self        bool      `json:"self"`        // this node
	Started     time.Time `json:"started"`     // when it started
	LastSeen    time.Time `json:"last_seen"`   // its last heartbeat or delta (now, for this node)
	Connections int64     `json:"connections"` // its open connections, as it announced them (-1: not reported)
	Presence    int       `json:"presence"`    // its (channel, user) presence entries known here
	Synced      bool      `json:"synced"`      // this node's copy of its presence is complete
}

// Nodes returns the nodes this node knows alive, itself first, then by
// name and start.
func (n *Node) Nodes() []NodeInfo {
	conns := int64(-1)
	if n.cfg.Connections != nil {
		conns = n.cfg.Connections()
	}
	now := n.cfg.Clock()
	n.mu.Lock()
	defer n.mu.Unlock()
	out := []NodeInfo{{Name: n.cfg.NodeName, Incarnation: strconv.FormatUint(n.inc, 16), Self: true, Started: n.started, LastSeen: now,
		Connections: conns, Presence: n.view.local.entries(), Synced: true}}
	for _, p := range n.view.peers {
		out = append(out, NodeInfo{Name: p.id.name, Incarnation: strconv.FormatUint(p.id.inc, 16), Started: time.UnixMilli(p.started),
			LastSeen: p.lastSeen, Connections: p.conns, Presence: p.table.entries(), Synced: p.synced})
	}
	slices.SortFunc(out[1:], func(a, b NodeInfo) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), a.Started.Compare(b.Started), strings.Compare(a.Incarnation, b.Incarnation))
	})
	return out
}

// Stats returns the node's counts.
func (n *Node) Stats() Stats {
	st := Stats{
		Published: n.ctr.published.Load(), Received: n.ctr.received.Load(), Refused: n.ctr.refused.Load(),
		Malformed: n.ctr.malformed.Load(), Reconnects: n.ctr.reconnects.Load(), Disconnects: n.ctr.disconnects.Load(),
		Lag: n.lag.Snapshot(),
	}
	if n.connected.Load() {
		st.Connected = 1
	}
	for _, s := range n.subs {
		if d, err := s.Dropped(); err == nil {
			st.Dropped += uint64(d)
		}
	}
	n.mu.Lock()
	st.Nodes = int64(len(n.view.peers)) + 1
	st.NodesLost, st.Syncs = n.view.lost, n.view.asked
	n.mu.Unlock()
	return st
}

// Close says goodbye to the other nodes, which drop this node's presence
// at once, and closes the connection. Publish fails with ErrClosed
// afterwards; a message from another node being delivered may still be
// when Close returns. Close the Node after the server using its Hub has
// stopped. It always returns nil; later calls do nothing.
func (n *Node) Close() error {
	n.close.Do(func() {
		n.stop()
		n.mu.Lock()
		bye := ctlMsg{typ: ctlBye, node: n.cfg.NodeName, inc: n.inc, seq: n.view.seq}
		n.mu.Unlock()
		if n.connected.Load() {
			n.nc.Publish(n.subj.node+n.cfg.NodeName, bye.appendBinary(nil))
			n.nc.FlushTimeout(closeTimeout)
		}
		n.nc.Close()
	})
	return nil
}

// stop stops the node's goroutines.
func (n *Node) stop() {
	n.closed.Store(true)
	close(n.done)
	n.wg.Wait()
}
