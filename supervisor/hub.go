package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// Stats is a worker's statistics, as App.Stats returns them. A worker
// process sends its Stats to the master as JSON every second; the master
// decodes each into a value from Config.NewStats and sums them with Add
// when a worker asks for the totals (Hub.Totals). An in-process worker's
// App is asked directly.
type Stats interface {
	// Add adds other, the Stats of another worker, into the receiver.
	// other has the receiver's concrete type: the one Config.NewStats
	// returns and App.Stats returns.
	Add(other Stats)
}

// Hub connects a worker to the other workers through the master: summed
// stats and a publish/subscribe relay (the chat application uses it so a
// message said on one worker reaches users on every worker). Its methods
// are safe for concurrent use.
type Hub struct {
	link hubLink // to the master; set by newHub, read-only

	mu   sync.Mutex // guards subs
	subs map[string][]subscriber
}

// subscriber receives the data of one published message.
type subscriber func(data []byte)

// hubLink is how a Hub reaches the master: procLink over a worker
// process's control channel, or localLink within the master's process.
type hubLink interface {
	// totals sets into to the sum of every live worker's latest Stats.
	totals(ctx context.Context, into Stats) error
	// publish relays a message to every other worker.
	publish(topic string, data []byte) error
}

func newHub(link hubLink) *Hub {
	return &Hub{link: link, subs: map[string][]subscriber{}}
}

// Totals sets into, a zero value of the workers' Stats type (a pointer,
// as Config.NewStats returns), to the sum of the latest Stats of every
// live worker, itself included. A worker process's Stats are up to a
// second old (statsInterval).
func (h *Hub) Totals(ctx context.Context, into Stats) error {
	return h.link.totals(ctx, into)
}

// Publish sends data to the subscribers of topic in every other worker.
func (h *Hub) Publish(topic string, data []byte) error {
	return h.link.publish(topic, data)
}

// Subscribe calls fn (on a hub goroutine; it must not block long) with the
// data of every message another worker publishes on topic.
func (h *Hub) Subscribe(topic string, fn func(data []byte)) {
	h.mu.Lock()
	h.subs[topic] = append(h.subs[topic], fn)
	h.mu.Unlock()
}

// deliver calls topic's subscribers with a message from another worker.
func (h *Hub) deliver(topic string, data []byte) {
	h.mu.Lock()
	fns := append([]subscriber(nil), h.subs[topic]...)
	h.mu.Unlock()
	for _, fn := range fns {
		fn(data)
	}
}

// localLink is the Hub of an in-process worker: the master is in the same
// process and answers directly.
type localLink struct {
	m    *master
	self *worker
}

func (l localLink) totals(_ context.Context, into Stats) error {
	l.m.totals(into)
	return nil
}

func (l localLink) publish(topic string, data []byte) error {
	l.m.publish(l.self, topic, data)
	return nil
}

// procLink is the Hub of a worker process: requests go to the master over
// the control channel, and the worker's reader goroutine (RunWorker) hands
// the replies back with reply.
type procLink struct {
	ctl    *control
	nextID atomic.Uint64

	mu      sync.Mutex // guards waiters and closed
	waiters map[uint64]chan message
	closed  bool // the master is gone: no reply will come
}

func newProcLink(ctl *control) *procLink {
	return &procLink{ctl: ctl, waiters: map[uint64]chan message{}}
}

func (l *procLink) totals(ctx context.Context, into Stats) error {
	id := l.nextID.Add(1)
	ch := make(chan message, 1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrControlClosed
	}
	l.waiters[id] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.waiters, id)
		l.mu.Unlock()
	}()
	if err := l.ctl.send(message{Op: opTotals, ID: id}); err != nil {
		return ErrControlClosed
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return ErrControlClosed
		}
		if m.Err != "" {
			return fmt.Errorf("supervisor: totals: %s", m.Err)
		}
		if err := json.Unmarshal(m.Data, into); err != nil {
			return fmt.Errorf("supervisor: totals from the master: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *procLink) publish(topic string, data []byte) error {
	if err := l.ctl.send(message{Op: opPublish, Topic: topic, Data: mustJSON(data)}); err != nil {
		return ErrControlClosed
	}
	return nil
}

// reply hands a totals reply to the request waiting for it.
func (l *procLink) reply(m message) {
	l.mu.Lock()
	ch := l.waiters[m.ID]
	delete(l.waiters, m.ID)
	l.mu.Unlock()
	if ch != nil {
		ch <- m // buffered: never blocks
	}
}

// close fails the requests waiting and any later one: the master is gone.
func (l *procLink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for id, ch := range l.waiters {
		close(ch)
		delete(l.waiters, id)
	}
}

// mustJSON encodes bytes as a JSON string (base64), so any payload fits a
// control line.
func mustJSON(b []byte) json.RawMessage {
	out, _ := json.Marshal(b)
	return out
}

func fromJSONBytes(r json.RawMessage) []byte {
	var b []byte
	json.Unmarshal(r, &b)
	return b
}
