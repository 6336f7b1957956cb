package channels

import (
	"context"
	"fmt"
	"sync"
)

// Client is one connection's membership in the Hub: its subscriptions and
// its place in its user's index. Get one with Hub.Connect when the
// connection opens (or logs in), and Close it when the connection closes.
//
// Client methods act for the connection's user and apply the namespaces'
// access rules. They are safe for concurrent use; a Client's own
// subscribe, unsubscribe and close operations run one at a time.
type Client struct {
	hub  *Hub
	sub  Subscriber
	user string // sub.UserID(), fixed at Connect

	opMu   sync.Mutex // serialises Subscribe, Unsubscribe and Close; held across them
	closed bool       // guarded by opMu

	mu   sync.Mutex   // guards subs (other clients' removals update the indexes in it)
	subs []membership // one per subscribed channel

	userPos int32 // index in the user's roster; guarded by the user shard's mu
}

// membership is a client's subscription to one channel, with its indexes
// in the channel's rosters (updated when a removal moves the client).
type membership struct {
	ch   *channel
	pos  int32 // index in ch.subs
	lpos int32 // index in ch.listeners, or -1
}

// Connect registers a connection and returns its Client. A connection with
// a UserID joins its user's index, so direct messages to the user reach it.
func (h *Hub) Connect(sub Subscriber) *Client {
	c := &Client{hub: h, sub: sub, user: sub.UserID()}
	if c.user != "" {
		h.addUserClient(c)
	}
	h.ctr.clients.Add(1)
	return c
}

// User returns the client's user ID ("" for anonymous).
func (c *Client) User() string { return c.user }

// SubscribeOptions tunes a subscription.
type SubscribeOptions struct {
	// JoinLeave asks for join and leave events of the channel. The
	// namespace must send them (else ErrNoJoinLeave).
	JoinLeave bool
	// Recover asks for the publications missed since Since. The Hub
	// delivers them, in offset order, before any live publication, and
	// reports in SubscribeResult.Recovered whether it could.
	Recover bool
	// Since is the last position the client saw (with Recover).
	Since Position
	// Server marks a subscription made by the backend for the connection:
	// the namespace's Subscribe rule does not apply.
	Server bool
}

// SubscribeResult is what a subscription found.
type SubscribeResult struct {
	// Position is the channel's newest position when the subscription
	// took effect (after the recovered publications); zero without
	// history or before the first publication.
	Position Position
	// Recovered reports, with Recover, that every missed publication was
	// delivered. False means the client must resync (reload what it shows
	// from the application or History): its epoch is gone (the server
	// restarted with memory history, or the stream expired), or what it
	// missed fell out of the window (HistorySize, HistoryTTL).
	Recovered bool
	// Missed is how many publications were recovered.
	Missed int
}

// Subscribe subscribes the client to ch. With opts.Recover, the missed
// publications are delivered (through Deliver, in batches) before
// Subscribe returns, and before any live publication of ch; a protocol
// layer then sends its reply, so a client may see the recovered and new
// publications before the reply to its subscribe request.
//
// Errors: ErrUnknownNamespace, ErrPermissionDenied, ErrNoJoinLeave,
// ErrAlreadySubscribed, ErrTooManyChannels, ErrChannelFull, ErrClientClosed,
// or a wrapped ErrHistory (the history store failed; not subscribed).
func (c *Client) Subscribe(ctx context.Context, ch Name, opts SubscribeOptions) (SubscribeResult, error) {
	h := c.hub
	ns, err := h.namespace(ch)
	if err == nil && !opts.Server {
		ns, err = h.allowed(c.user, ch, opSubscribe)
	}
	if err != nil {
		return SubscribeResult{}, err
	}
	if opts.JoinLeave && !ns.JoinLeave {
		return SubscribeResult{}, fmt.Errorf("%w: %q", ErrNoJoinLeave, ch.s)
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.closed {
		return SubscribeResult{}, ErrClientClosed
	}
	c.mu.Lock()
	subscribed, count := c.indexByName(ch.s) >= 0, len(c.subs)
	c.mu.Unlock()
	switch {
	case subscribed:
		return SubscribeResult{}, fmt.Errorf("%w: %q", ErrAlreadySubscribed, ch.s)
	case count >= h.cfg.MaxChannelsPerClient:
		return SubscribeResult{}, fmt.Errorf("%w: %d", ErrTooManyChannels, count)
	}
	if ns.history() {
		l := h.pubLock(ch.s)
		l.Lock()
		defer l.Unlock()
	}
	chn := h.lockChannel(ch.s, ns)
	res, join, err := c.subscribeLocked(ctx, chn, opts)
	chn.mu.Unlock()
	if join != nil {
		h.forward(join)
	}
	return res, err
}

// subscribeLocked does the subscription with chn.mu held (and the channel's
// pubLock, with history). It returns the join event to forward, if any.
func (c *Client) subscribeLocked(ctx context.Context, chn *channel, opts SubscribeOptions) (SubscribeResult, *Message, error) {
	h, ns := c.hub, chn.ns
	if ns.MaxSubscribers > 0 && chn.subs.len() >= ns.MaxSubscribers {
		return SubscribeResult{}, nil, fmt.Errorf("%w: %q has %d subscribers", ErrChannelFull, chn.name, ns.MaxSubscribers)
	}
	var res SubscribeResult
	if ns.history() {
		limit := 0
		if opts.Recover {
			limit = ns.HistorySize
		}
		pubs, top, err := h.cfg.History.Read(ctx, chn.name, Query{After: opts.Since.Offset, Limit: limit}, h.cfg.Clock())
		if err != nil {
			h.ctr.historyErrors.Add(1)
			h.dropIfEmptyLocked(chn)
			return SubscribeResult{}, nil, fmt.Errorf("%w: %w", ErrHistory, err)
		}
		res.Position = top
		if opts.Recover {
			if res.Recovered = recoverable(opts.Since, top, pubs); res.Recovered {
				res.Missed = len(pubs)
				h.ctr.recovered.Add(1)
				c.deliverBatch(pubs)
			} else {
				h.ctr.resyncs.Add(1)
			}
		}
	} else if opts.Recover {
		h.ctr.resyncs.Add(1) // nothing to recover from: Recovered stays false
	}
	m := membership{ch: chn, pos: chn.subs.add(c), lpos: -1}
	if opts.JoinLeave {
		m.lpos = chn.listeners.add(c)
	}
	c.mu.Lock()
	c.subs = append(c.subs, m)
	c.mu.Unlock()
	h.ctr.subscriptions.Add(1)
	if chn.presence == nil || c.user == "" {
		return res, nil, nil
	}
	n := chn.presence[c.user]
	chn.presence[c.user] = n + 1
	cluster := h.track(chn.name, c.user, n+1)
	if n > 0 {
		return res, nil, nil
	}
	h.ctr.members.Add(1)
	if !cluster {
		return res, nil, nil // the user is already in the channel on another node
	}
	h.ctr.joins.Add(1)
	join := &Message{Kind: KindJoin, Channel: chn.name, User: c.user, Time: h.cfg.Clock().UnixMilli()}
	h.deliver(chn.listeners.load(), join)
	if h.tracker != nil {
		return res, nil, nil // the tracker tells the other nodes
	}
	return res, join, nil
}

// deliverBatch hands pubs to the client's subscriber, encoded back to back,
// at most maxBatch bytes per Deliver call (a batch counts as one message
// in the connection's send queue).
func (c *Client) deliverBatch(pubs []Message) {
	h := c.hub
	var buf []byte
	flush := func() {
		if len(buf) > 0 {
			var d deliveries
			d.count(c.sub.Deliver(buf))
			h.ctr.add(d)
			buf = nil
		}
	}
	for i := range pubs {
		p, err := h.encode(buf, &pubs[i])
		if err != nil {
			continue // counted; the client sees a gap and resyncs
		}
		buf = p
		if len(buf) >= maxBatch {
			flush()
		}
	}
	flush()
}

// Unsubscribe removes the client from ch. It fails with ErrNotSubscribed
// or ErrClientClosed.
func (c *Client) Unsubscribe(ch Name) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.closed {
		return ErrClientClosed
	}
	c.mu.Lock()
	var chn *channel
	if i := c.indexByName(ch.s); i >= 0 {
		chn = c.subs[i].ch
	}
	c.mu.Unlock()
	if chn == nil {
		return fmt.Errorf("%w: %q", ErrNotSubscribed, ch.s)
	}
	c.leave(chn)
	return nil
}

// Close unsubscribes the client from every channel and removes it from its
// user's index. Later calls on the Client fail with ErrClientClosed; Close
// itself is idempotent.
func (c *Client) Close() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for {
		c.mu.Lock()
		if len(c.subs) == 0 {
			c.mu.Unlock()
			break
		}
		chn := c.subs[len(c.subs)-1].ch
		c.mu.Unlock()
		c.leave(chn)
	}
	if c.user != "" {
		c.hub.removeUserClient(c)
	}
	c.hub.ctr.clients.Add(-1)
}

// Channels returns the names of the channels the client is subscribed to.
func (c *Client) Channels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.subs))
	for i, m := range c.subs {
		out[i] = m.ch.name
	}
	return out
}

// leave removes the client from chn, which it is subscribed to. c.opMu is
// held.
func (c *Client) leave(chn *channel) {
	h := c.hub
	chn.mu.Lock()
	c.mu.Lock()
	i := c.indexOf(chn)
	m := c.subs[i]
	last := len(c.subs) - 1
	c.subs[i] = c.subs[last]
	c.subs[last] = membership{}
	c.subs = c.subs[:last]
	c.mu.Unlock()
	if moved := chn.subs.remove(m.pos); moved != nil {
		moved.moved(chn, m.pos, false)
	}
	if m.lpos >= 0 {
		if moved := chn.listeners.remove(m.lpos); moved != nil {
			moved.moved(chn, m.lpos, true)
		}
	}
	h.ctr.subscriptions.Add(-1)
	var leave *Message
	if chn.presence != nil && c.user != "" {
		n := chn.presence[c.user] - 1
		cluster := h.track(chn.name, c.user, n)
		if n > 0 {
			chn.presence[c.user] = n
		} else {
			delete(chn.presence, c.user)
			h.ctr.members.Add(-1)
		}
		if n == 0 && cluster {
			h.ctr.leaves.Add(1)
			leave = &Message{Kind: KindLeave, Channel: chn.name, User: c.user, Time: h.cfg.Clock().UnixMilli()}
			h.deliver(chn.listeners.load(), leave)
			if h.tracker != nil {
				leave = nil // the tracker tells the other nodes
			}
		}
	}
	h.dropIfEmptyLocked(chn)
	chn.mu.Unlock()
	if leave != nil {
		h.forward(leave)
	}
}

// moved records the client's new index in chn's subscribers (or, with
// listener, listeners) after a removal moved it. chn.mu is held.
func (c *Client) moved(chn *channel, pos int32, listener bool) {
	c.mu.Lock()
	i := c.indexOf(chn)
	if listener {
		c.subs[i].lpos = pos
	} else {
		c.subs[i].pos = pos
	}
	c.mu.Unlock()
}

// indexOf returns the index of chn's membership; c.mu is held and the
// client is subscribed.
func (c *Client) indexOf(chn *channel) int {
	for i := range c.subs {
		if c.subs[i].ch == chn {
			return i
		}
	}
	panic("channels: client not in its channel") // an invariant broke
}

// indexByName returns the index of the membership of the channel named
// name, or -1; c.mu is held.
func (c *Client) indexByName(name string) int {
	for i := range c.subs {
		if c.subs[i].ch.name == name {
			return i
		}
	}
	return -1
}

// Publish publishes data to ch as the client's user, if the namespace's
// Publish rule allows it (else ErrPermissionDenied); see Hub.Publish. A
// client need not be subscribed to publish.
func (c *Client) Publish(ctx context.Context, ch Name, data []byte) (PublishResult, error) {
	return c.hub.PublishAs(ctx, c.user, ch, data)
}

// SendToUser sends data to every connection of user, from the client's
// user, if Config.DirectMessages allows it; see Hub.SendToUser.
func (c *Client) SendToUser(user string, data []byte) (int, error) {
	return c.hub.SendToUserAs(c.user, user, data)
}

// Presence returns ch's members if the client may subscribe to ch; see
// Hub.Presence.
func (c *Client) Presence(ctx context.Context, ch Name) ([]Member, error) {
	if err := c.hub.CanSubscribe(c.user, ch); err != nil {
		return nil, err
	}
	return c.hub.Presence(ctx, ch)
}

// History returns ch's publications if the client may subscribe to ch; see
// Hub.History.
func (c *Client) History(ctx context.Context, ch Name, q Query) ([]Message, Position, error) {
	if err := c.hub.CanSubscribe(c.user, ch); err != nil {
		return nil, Position{}, err
	}
	return c.hub.History(ctx, ch, q)
}
