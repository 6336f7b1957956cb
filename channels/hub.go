package channels

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Hub is the messaging core of one node: channels and their subscribers,
// the index of each user's connections, presence, and publishing through
// history and the broker. Create it with NewHub; connect each connection
// with Connect. All methods are safe for concurrent use.
//
// Hub methods act as the application's backend: they are not subject to
// the namespaces' access rules (Client methods are).
type Hub struct {
	cfg        Config
	namespaces map[string]*Namespace // immutable after NewHub
	seed       maphash.Seed
	channels   [hubShards]channelShard
	users      [hubShards]userShard
	// pubLocks serialise, per channel (striped by hash), a publication's
	// history append with its local fan-out, and a subscription's history
	// read with its insertion, in namespaces with history. That is what
	// gives local subscribers publications in offset order and a recovery
	// without gaps or duplicates.
	pubLocks   [pubLockStripes]sync.Mutex
	brokerDown atomic.Bool     // the last broker publish failed (logged once per outage)
	tracker    PresenceTracker // cfg.Presence, if it tracks this node's presence; else nil
	ctr        counters
}

const (
	hubShards      = 64  // shards of the channel and user indexes
	pubLockStripes = 512 // stripes of pubLocks
	// maxBatch bounds the bytes of recovered publications handed to one
	// Deliver call.
	maxBatch = 64 << 10
)

// channelShard is one shard of the channel index.
type channelShard struct {
	mu sync.RWMutex // guards m
	m  map[string]*channel
	_  [32]byte // pads the shard to a cache line
}

// channel is a channel with at least one subscriber on this node. It is
// created by the first subscription and removed with the last one.
type channel struct {
	name string
	ns   *Namespace

	subs      roster // subscribed clients; written with mu held
	listeners roster // those of subs that asked for join/leave events; written with mu held

	mu       sync.Mutex       // guards writes to subs and listeners, and the fields below
	presence map[string]int32 // user -> connections subscribed; nil without Presence
	dead     bool             // removed from the index: look the name up again
}

// userShard is one shard of the user index.
type userShard struct {
	mu sync.Mutex // guards m, the rosters in it, and their clients' userPos
	m  map[string]*roster
	_  [48]byte
}

// NewHub returns a Hub. It calls cfg.Broker's Bind.
func NewHub(cfg Config) (*Hub, error) {
	cfg, nss, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, namespaces: nss, seed: maphash.MakeSeed()}
	h.tracker, _ = cfg.Presence.(PresenceTracker)
	for i := range h.channels {
		h.channels[i].m = map[string]*channel{}
		h.users[i].m = map[string]*roster{}
	}
	if cfg.Broker != nil {
		cfg.Broker.Bind(h)
	}
	return h, nil
}

// Namespace returns the rules of ch's namespace, or ErrUnknownNamespace.
func (h *Hub) Namespace(ch Name) (Namespace, error) {
	ns, err := h.namespace(ch)
	if err != nil {
		return Namespace{}, err
	}
	return *ns, nil
}

func (h *Hub) namespace(ch Name) (*Namespace, error) {
	if ch.IsZero() {
		return nil, &NameError{Reason: "empty"}
	}
	ns := h.namespaces[ch.Namespace()]
	if ns == nil {
		return nil, fmt.Errorf("%w %q (channel %q)", ErrUnknownNamespace, ch.Namespace(), ch.s)
	}
	return ns, nil
}

// CanSubscribe reports whether user ("" for anonymous) may subscribe to ch,
// and read its presence and history: nil, ErrUnknownNamespace or
// ErrPermissionDenied. For callers without a Client (the web app's HTTP
// handlers).
func (h *Hub) CanSubscribe(user string, ch Name) error {
	_, err := h.allowed(user, ch, opSubscribe)
	return err
}

// CanPublish reports whether user may publish to ch, like CanSubscribe.
func (h *Hub) CanPublish(user string, ch Name) error {
	_, err := h.allowed(user, ch, opPublish)
	return err
}

// op is what a client asks to do, for permission checks.
type op uint8

const (
	opSubscribe op = iota
	opPublish
)

// allowed returns ch's namespace if its rule for o admits user, and
// otherwise ErrUnknownNamespace or ErrPermissionDenied (counted).
func (h *Hub) allowed(user string, ch Name, o op) (*Namespace, error) {
	ns, err := h.namespace(ch)
	if err != nil {
		return nil, err
	}
	rule, verb := ns.Subscribe, "subscribe to"
	if o == opPublish {
		rule, verb = ns.Publish, "publish to"
	}
	if !rule.allows(user, ch) {
		h.ctr.denied.Add(1)
		return nil, fmt.Errorf("%w: %s %q", ErrPermissionDenied, verb, ch.s)
	}
	return ns, nil
}

// PublishResult is what a publication did.
type PublishResult struct {
	// Position is the publication's place in history; zero without history.
	Position Position
	// Delivered counts this node's connections that accepted it.
	Delivered int
}

// Publish publishes data to ch as the backend (no access rule applies):
// it appends it to the channel's history if the namespace keeps one,
// delivers it to this node's subscribers, and hands it to the broker for
// the other nodes. data is not retained after Publish returns.
//
// It fails with ErrDataTooLarge, a wrapped ErrHistory (nothing was
// delivered), or the Encoder's error (history has the publication; no one
// received it). A broker failure is not an error: it is counted and
// logged, and delivery stays local until the broker answers again.
func (h *Hub) Publish(ctx context.Context, ch Name, data []byte) (PublishResult, error) {
	ns, err := h.namespace(ch)
	if err != nil {
		return PublishResult{}, err
	}
	return h.publish(ctx, ch, ns, "", data)
}

// PublishAs publishes data to ch as user ("" for anonymous), if the
// namespace's Publish rule admits user (else ErrPermissionDenied), for
// callers that act for a user without a Client of theirs (the web app's
// HTTP handlers, whose connection is not the one subscribed). The
// publication's From is user; otherwise it is Publish.
func (h *Hub) PublishAs(ctx context.Context, user string, ch Name, data []byte) (PublishResult, error) {
	ns, err := h.allowed(user, ch, opPublish)
	if err != nil {
		return PublishResult{}, err
	}
	return h.publish(ctx, ch, ns, user, data)
}

func (h *Hub) publish(ctx context.Context, ch Name, ns *Namespace, from string, data []byte) (PublishResult, error) {
	if len(data) > h.cfg.MaxDataSize {
		return PublishResult{}, fmt.Errorf("%w: %d bytes to %q, limit %d", ErrDataTooLarge, len(data), ch.s, h.cfg.MaxDataSize)
	}
	now := h.cfg.Clock()
	m := &Message{Kind: KindPublication, Channel: ch.s, From: from, Time: now.UnixMilli(), Data: data}
	if ns.history() {
		l := h.pubLock(ch.s)
		l.Lock()
		defer l.Unlock()
		pos, err := h.cfg.History.Append(ctx, m, AppendOptions{Size: ns.HistorySize, TTL: ns.HistoryTTL, Now: now})
		if err != nil {
			h.ctr.historyErrors.Add(1)
			return PublishResult{}, fmt.Errorf("%w: %w", ErrHistory, err)
		}
		m.Offset, m.Epoch = pos.Offset, pos.Epoch
	}
	h.ctr.publications.Add(1)
	// The pubLock (if any) is held: no subscription of this channel is
	// between its history read and its insertion, so the roster needs no
	// other lock.
	n, err := h.fanout(h.lookup(ch.s), m, false)
	h.forward(m)
	return PublishResult{Position: m.Position(), Delivered: n}, err
}

// fanout encodes m once and delivers it to ch's subscribers (nil ch: none).
// With locked, the roster is read under ch.mu, ordering the read with
// subscriptions in progress (for messages from other nodes, which no
// pubLock orders).
func (h *Hub) fanout(ch *channel, m *Message, locked bool) (int, error) {
	if ch == nil {
		return 0, nil
	}
	var s *snapshot
	if locked {
		ch.mu.Lock()
		s = ch.subs.load()
		ch.mu.Unlock()
	} else {
		s = ch.subs.load()
	}
	return h.deliver(s, m)
}

// deliver encodes m once and hands the bytes to every client of s.
func (h *Hub) deliver(s *snapshot, m *Message) (int, error) {
	if s == nil {
		return 0, nil
	}
	p, err := h.encode(nil, m)
	if err != nil {
		return 0, err
	}
	d := s.deliver(p)
	h.ctr.add(d)
	return int(d.ok), nil
}

func (h *Hub) encode(dst []byte, m *Message) ([]byte, error) {
	if dst == nil {
		// Room for the data and the envelope, so the encoder does not
		// grow the buffer: one allocation per publication.
		dst = make([]byte, 0, len(m.Data)+len(m.Channel)+len(m.Epoch)+len(m.From)+len(m.User)+96)
	}
	p, err := h.cfg.Encoder.AppendMessage(dst, m)
	if err != nil {
		h.ctr.encodeErrors.Add(1)
		return nil, fmt.Errorf("channels: encode %v on %q: %w", m.Kind, m.Channel, err)
	}
	return p, nil
}

// forward hands m to the broker, if any.
func (h *Hub) forward(m *Message) {
	b := h.cfg.Broker
	if b == nil {
		return
	}
	if err := b.Publish(m); err != nil {
		h.ctr.brokerErrors.Add(1)
		if !h.brokerDown.Swap(true) {
			h.cfg.Logger.Warn("channels: broker publish failed; delivering to this node only until it recovers", "err", err)
		}
		return
	}
	if h.brokerDown.Load() && h.brokerDown.Swap(false) {
		h.cfg.Logger.Info("channels: broker publish works again")
	}
}

// Receive delivers a message from another node to this node's connections:
// implements Receiver, for brokers. It neither records history (the
// publishing node did) nor forwards m. m is not retained.
func (h *Hub) Receive(m *Message) {
	h.ctr.received.Add(1)
	switch m.Kind {
	case KindPublication:
		ch, err := ParseName(m.Channel)
		if err != nil {
			return
		}
		ns, err := h.namespace(ch)
		if err != nil {
			return
		}
		h.fanout(h.lookup(m.Channel), m, ns.history())
	case KindJoin, KindLeave:
		if ch := h.lookup(m.Channel); ch != nil {
			ch.mu.Lock()
			s := ch.listeners.load()
			ch.mu.Unlock()
			h.deliver(s, m)
		}
	case KindDirect:
		h.deliverUser(m)
	}
}

// SendToUser sends data to every connection of user, on every node, as the
// backend. It reports how many of this node's connections accepted it. A
// direct message is not kept: a user with no connection misses it (publish
// to the user's personal channel for messages that must survive a
// reconnect). data is not retained.
func (h *Hub) SendToUser(user string, data []byte) (int, error) {
	return h.sendToUser(user, "", data)
}

// SendToUserAs sends data to every connection of user from the user from
// ("" for anonymous), if Config.DirectMessages admits from (else
// ErrPermissionDenied): SendToUser on behalf of a user, for callers
// without a Client of theirs, like PublishAs.
func (h *Hub) SendToUserAs(from, user string, data []byte) (int, error) {
	if !h.cfg.DirectMessages.allows(from, Name{}) {
		h.ctr.denied.Add(1)
		return 0, fmt.Errorf("%w: direct message to %q", ErrPermissionDenied, user)
	}
	return h.sendToUser(user, from, data)
}

func (h *Hub) sendToUser(user, from string, data []byte) (int, error) {
	if !validUserID(user) {
		return 0, fmt.Errorf("%w: %q", ErrBadUser, user)
	}
	if len(data) > h.cfg.MaxDataSize {
		return 0, fmt.Errorf("%w: %d bytes to user %q, limit %d", ErrDataTooLarge, len(data), user, h.cfg.MaxDataSize)
	}
	m := &Message{Kind: KindDirect, User: user, From: from, Time: h.cfg.Clock().UnixMilli(), Data: data}
	h.ctr.directs.Add(1)
	n, err := h.deliverUser(m)
	h.forward(m)
	return n, err
}

func (h *Hub) deliverUser(m *Message) (int, error) {
	sh := h.userShard(m.User)
	sh.mu.Lock()
	var s *snapshot
	if r := sh.m[m.User]; r != nil {
		s = r.load()
	}
	sh.mu.Unlock()
	return h.deliver(s, m)
}

// Member is a user present in a channel.
type Member struct {
	User  string `json:"user"`
	Conns int    `json:"conns"` // the user's connections subscribed (on this node, for LocalMembers)
}

// Presence answers who is in a channel. The Hub's own answer (LocalMembers)
// covers this node; a cluster plugs in one that merges every node's
// (Config.Presence).
type Presence interface {
	// Members returns the channel's members, sorted by user.
	Members(ctx context.Context, channel string) ([]Member, error)
}

// PresenceTracker is a Presence that keeps a cluster-wide view, and so
// must hear of this node's presence: a cluster's presence (package
// cluster) implements it. A Hub whose Config.Presence is a PresenceTracker
// reports every change to it, sends join and leave events only when the
// tracker says the user came or went cluster-wide, and does not forward
// them to its Broker: the tracker carries presence to the other nodes, and
// delivers their join and leave events through Hub.Receive.
type PresenceTracker interface {
	Presence
	// Track says that user now has conns connections of this node
	// subscribed to channel (0: none left). It reports whether the
	// change makes the user appear in the channel cluster-wide (conns
	// went from 0 to 1 and no other node has the user) or disappear from
	// it (1 to 0, and no other node has the user); the Hub then sends its
	// join or leave event. The answer is ignored for other changes.
	//
	// The Hub calls it with the channel's lock held, in the order of the
	// changes for each channel: it must not block and must not call the
	// Hub.
	Track(channel, user string, conns int) bool
}

// track reports a presence change to the tracker, if any, and whether
// the change is a join or leave for the cluster (always, without one).
// The channel's mu is held.
func (h *Hub) track(channel, user string, conns int32) bool {
	if h.tracker == nil {
		return true
	}
	return h.tracker.Track(channel, user, int(conns))
}

// Presence returns ch's members as the backend: from Config.Presence if
// set, else this node's. It fails with ErrNoPresence if the namespace
// keeps none.
func (h *Hub) Presence(ctx context.Context, ch Name) ([]Member, error) {
	ns, err := h.namespace(ch)
	if err != nil {
		return nil, err
	}
	if !ns.Presence {
		return nil, fmt.Errorf("%w: %q", ErrNoPresence, ch.s)
	}
	if h.cfg.Presence != nil {
		return h.cfg.Presence.Members(ctx, ch.s)
	}
	return h.LocalMembers(ch), nil
}

// Subscribers returns how many of this node's connections are subscribed
// to ch: what a publication to ch would be delivered to here, for callers
// that bound the fan-out before they publish.
func (h *Hub) Subscribers(ch Name) int {
	if c := h.lookup(ch.s); c != nil {
		return c.subs.len()
	}
	return 0
}

// LocalMembers returns the members of ch on this node, sorted by user
// (none if the namespace keeps no presence).
func (h *Hub) LocalMembers(ch Name) []Member {
	c := h.lookup(ch.s)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	out := make([]Member, 0, len(c.presence))
	for u, n := range c.presence {
		out = append(out, Member{User: u, Conns: int(n)})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.User, b.User) })
	return out
}

// History returns publications of ch as the backend, oldest first, and the
// stream's position; q.Limit is capped to the namespace's HistorySize, and
// a Limit of 0 or less means HistorySize. It fails with ErrNoHistory if
// the namespace keeps none. The Data of the messages must not be modified.
func (h *Hub) History(ctx context.Context, ch Name, q Query) ([]Message, Position, error) {
	ns, err := h.namespace(ch)
	if err != nil {
		return nil, Position{}, err
	}
	if !ns.history() {
		return nil, Position{}, fmt.Errorf("%w: %q", ErrNoHistory, ch.s)
	}
	if q.Limit <= 0 || q.Limit > ns.HistorySize {
		q.Limit = ns.HistorySize
	}
	msgs, pos, err := h.cfg.History.Read(ctx, ch.s, q, h.cfg.Clock())
	if err != nil {
		h.ctr.historyErrors.Add(1)
		return nil, Position{}, fmt.Errorf("%w: %w", ErrHistory, err)
	}
	return msgs, pos, nil
}

// RunExpiry calls the history store's Expire every interval until ctx is
// done, then returns ctx's error. Failures are logged. Run it in a
// goroutine; cancel ctx to stop it.
func (h *Hub) RunExpiry(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := h.cfg.History.Expire(ctx, h.cfg.Clock()); err != nil && ctx.Err() == nil {
				h.ctr.historyErrors.Add(1)
				h.cfg.Logger.Warn("channels: expire history", "err", err)
			}
		}
	}
}

func (h *Hub) pubLock(name string) *sync.Mutex {
	return &h.pubLocks[maphash.String(h.seed, name)%pubLockStripes]
}

func (h *Hub) channelShard(name string) *channelShard {
	return &h.channels[maphash.String(h.seed, name)%hubShards]
}

func (h *Hub) userShard(user string) *userShard {
	return &h.users[maphash.String(h.seed, user)%hubShards]
}

// lookup returns the channel of that name, or nil if it has no subscriber
// here. The channel may be dead by the time the caller looks at it; a dead
// channel's rosters are empty.
func (h *Hub) lookup(name string) *channel {
	sh := h.channelShard(name)
	sh.mu.RLock()
	ch := sh.m[name]
	sh.mu.RUnlock()
	return ch
}

// lockChannel returns the live channel of that name, created if needed,
// with its mu held. Lock order: a shard's mu is never held while taking a
// channel's mu; a channel's mu may be held while taking its shard's.
func (h *Hub) lockChannel(name string, ns *Namespace) *channel {
	sh := h.channelShard(name)
	for {
		sh.mu.RLock()
		ch := sh.m[name]
		sh.mu.RUnlock()
		if ch == nil {
			sh.mu.Lock()
			if ch = sh.m[name]; ch == nil {
				ch = &channel{name: name, ns: ns}
				if ns.Presence {
					ch.presence = map[string]int32{}
				}
				sh.m[name] = ch
				h.ctr.channels.Add(1)
			}
			sh.mu.Unlock()
		}
		ch.mu.Lock()
		if !ch.dead {
			return ch
		}
		ch.mu.Unlock()
	}
}

// dropIfEmptyLocked removes ch from the index if it has no subscriber.
// ch.mu must be held.
func (h *Hub) dropIfEmptyLocked(ch *channel) {
	if ch.subs.len() > 0 || ch.dead {
		return
	}
	ch.dead = true
	sh := h.channelShard(ch.name)
	sh.mu.Lock()
	if sh.m[ch.name] == ch {
		delete(sh.m, ch.name)
	}
	sh.mu.Unlock()
	h.ctr.channels.Add(-1)
}

func (h *Hub) addUserClient(c *Client) {
	sh := h.userShard(c.user)
	sh.mu.Lock()
	r := sh.m[c.user]
	if r == nil {
		r = &roster{}
		sh.m[c.user] = r
		h.ctr.users.Add(1)
	}
	c.userPos = r.add(c)
	sh.mu.Unlock()
}

func (h *Hub) removeUserClient(c *Client) {
	sh := h.userShard(c.user)
	sh.mu.Lock()
	r := sh.m[c.user]
	if moved := r.remove(c.userPos); moved != nil {
		moved.userPos = c.userPos
	}
	if r.len() == 0 {
		delete(sh.m, c.user)
		h.ctr.users.Add(-1)
	}
	sh.mu.Unlock()
}
