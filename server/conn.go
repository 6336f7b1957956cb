package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/iplimit"
	"wharf/packet"
)

// Conn is one client connection of the server, on any transport. Its
// methods are safe from any goroutine.
type Conn struct {
	srv *Server
	ec  engine.Conn
	src iplimit.Key // the source slot this connection holds in Server.perSource; zero if none
	// refused is set in OnOpen when the source holds MaxConnectionsPerIP
	// already: the connection is being closed and its input is ignored.
	refused bool

	// Owned by the connection's event loop (engine callbacks):
	dec  packet.Decoder
	last int64 // flood guard: next arrival at the sustained rate (bucket), or the previous packet (interval); UnixNano
	hits int   // flood guard (interval): consecutive packets closer than FloodInterval

	mu        sync.Mutex // guards in and scheduled
	in        *inbox     // requests waiting for a worker, oldest first; nil when none
	scheduled bool       // the connection is in the run queue or being served
	// Counts of the mailbox (in and cur), changed by the loop under mu
	// and by the serving worker without it.
	queued  atomic.Int32 // requests waiting (counted in Server.queued too)
	markers atomic.Int32 // "overloaded" markers waiting (not counted there)

	// Owned by the worker serving the connection, handed on with it
	// through the run queue:
	cur *inbox // the inbox being served; what a turn leaves of it comes first in the next

	// The reply batch. While a worker serves the connection (a turn, see
	// Server.work), every packet sent to it, by its handlers or by any
	// other goroutine, is appended to out in call order, and the batch
	// goes to the transport as one write (engine.Conn.AsyncWriteBatch,
	// which counts it as out.n packets for the pending limits) when the
	// turn ends, when it is full, and before Close. Replies keep their
	// order, and so do one goroutine's Sends: a packet joins the batch, or
	// goes out on its own after the batch was handed on.
	batching atomic.Bool // a turn is open; set by the worker, cleared by it under bmu
	bmu      sync.Mutex  // guards out
	out      *outPacket  // the batch so far; nil when empty

	value  atomic.Pointer[any] // user value (e.g. the logged-in account)
	closed atomic.Bool
}

// ID is unique per server process and never reused.
func (c *Conn) ID() uint64 { return c.ec.ID() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ec.RemoteAddr() }

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetValue attaches a value to the connection (the chat application stores
// the logged-in user). nil clears it.
func (c *Conn) SetValue(v any) {
	if v == nil {
		c.value.Store(nil)
		return
	}
	c.value.Store(&v)
}

// Closed reports whether the connection has closed.
func (c *Conn) Closed() bool { return c.closed.Load() }

// Send queues a packet for the connection. It never blocks: the packet goes
// through the transport's send queue. It fails with ErrClosed once the
// connection closed, and ErrOverloaded (the packet is dropped and counted)
// while the server holds max_pending_total unsent packets. A connection
// whose own backlog exceeds max_pending_per_conn is closed (a slow reader).
//
// While a worker serves the connection, the packet joins the worker's reply
// batch instead (see Request.Flush): it is written, in order, with the
// replies of the turn, and a refusal of the batch is counted when the batch
// is handed to the transport rather than returned here.
func (c *Conn) Send(code uint16, body []byte) error {
	if c.batching.Load() {
		if ok, err := c.appendBatch(code, body, nil); ok {
			return err
		}
	}
	o := outPackets.Get().(*outPacket)
	var err error
	if o.b, err = packet.Append(o.b[:0], code, body); err != nil {
		outPackets.Put(o)
		return err
	}
	if err := c.sendPooled(o); err != nil {
		o.done(nil, err)
		return err
	}
	return nil
}

// flush hands the reply batch to the transport now; without a turn it does
// nothing.
func (c *Conn) flush() {
	if !c.batching.Load() {
		return
	}
	c.bmu.Lock()
	c.flushLocked()
	c.bmu.Unlock()
}

// appendBatch adds a packet to the reply batch: code and body, or p already
// encoded when p is not nil. It reports false, appending nothing, when no
// turn is open (the caller sends the packet on its own).
func (c *Conn) appendBatch(code uint16, body, p []byte) (bool, error) {
	c.bmu.Lock()
	if !c.batching.Load() {
		c.bmu.Unlock()
		return false, nil
	}
	if c.closed.Load() {
		c.bmu.Unlock()
		return true, ErrClosed
	}
	o := c.out
	if o == nil {
		o = outPackets.Get().(*outPacket)
		c.out = o
	}
	var err error
	if p != nil {
		o.b = append(o.b, p...)
	} else {
		o.b, err = packet.Append(o.b, code, body) // unchanged on error
	}
	if err == nil {
		o.n++
	}
	switch {
	case o.n == 0:
		c.out = nil
		o.done(nil, nil)
	case o.n >= c.srv.batchPackets || len(o.b) >= maxBatchBytes:
		c.flushLocked()
	}
	c.bmu.Unlock()
	return true, err
}

// flushLocked hands the reply batch to the transport as one write counted
// as its packets. c.bmu must be held.
func (c *Conn) flushLocked() {
	o := c.out
	if o == nil {
		return
	}
	c.out = nil
	o.vec[0] = o.b
	n := o.n // o belongs to the engine once handed on
	if err := c.countSent(c.ec.AsyncWriteBatch(o.vec[:], n, o.doneFn), n); err != nil {
		o.done(nil, err)
	}
}

// beginTurn opens the reply batch for the worker that now serves c.
func (c *Conn) beginTurn() { c.batching.Store(true) }

// endTurn hands the batch on and closes it: later packets go out on their
// own until the next turn.
func (c *Conn) endTurn() {
	c.bmu.Lock()
	c.flushLocked()
	c.batching.Store(false)
	c.bmu.Unlock()
}

// maxBatchBytes bounds a reply batch: a batch this large is handed on at
// once (a handler pushing thousands of packets in one turn sends them in
// writes of about this size).
const maxBatchBytes = 16 << 10

// outPacket is a pooled send buffer, one packet or a reply batch of n: the
// engine reads it until the write is done, and the done callback puts it
// back (bound once per object, so sending allocates nothing).
type outPacket struct {
	b      []byte
	n      int       // packets in b (a batch)
	vec    [1][]byte // b, for AsyncWriteBatch without an allocation
	doneFn engine.WriteDone
}

// maxPooledPacket keeps large buffers from staying in the pool; a full
// batch is up to maxBatchBytes plus one packet.
const maxPooledPacket = 2 * maxBatchBytes

var outPackets sync.Pool

func init() { // New refers to outPackets through done: set it after the var
	outPackets.New = func() any {
		o := &outPacket{}
		o.doneFn = o.done
		return o
	}
}

func (o *outPacket) done(engine.Conn, error) {
	o.vec[0] = nil
	o.n = 0
	if cap(o.b) <= maxPooledPacket {
		o.b = o.b[:0]
		outPackets.Put(o)
	}
}

func (c *Conn) sendPooled(o *outPacket) error {
	return c.countSent(c.ec.AsyncWrite(o.b, o.doneFn), 1)
}

func (c *Conn) sendError(code uint16, msg string) error {
	return c.sendPacket(encodeError(code, msg))
}

// sendPacket queues an encoded packet. p is shared by broadcasts: the engine
// only reads it (a batch copies it).
func (c *Conn) sendPacket(p []byte) error {
	if c.batching.Load() {
		if ok, err := c.appendBatch(0, nil, p); ok {
			return err
		}
	}
	return c.countSent(c.ec.AsyncWrite(p, nil), 1)
}

// countSent counts n queued packets, or maps the engine's refusal of them.
func (c *Conn) countSent(err error, n int) error {
	switch err {
	case nil:
		c.srv.ctr.packetsOut.Add(uint64(n))
		return nil
	case engine.ErrOverloaded:
		c.srv.ctr.dropped.Add(uint64(n))
		return ErrOverloaded
	case engine.ErrConnClosed, engine.ErrOutboundFull:
		return ErrClosed
	}
	return err
}

// Close closes the connection after its queued packets are written, the
// reply batch of a worker serving it included.
func (c *Conn) Close() error {
	c.flush()
	return c.ec.Close()
}

// admission is what enqueue did with a request.
type admission uint8

const (
	admitted   admission = iota // queued for a worker
	refuseNow                   // refused, and nothing of the connection is pending: answer "overloaded" at once
	refuseLate                  // refused, queued as a marker: a worker answers "overloaded" in order
	refuseKick                  // refused, and the connection has too much pending: close it
)

// enqueue copies a request into the mailbox and schedules the connection
// for a worker. A request refused because the handler queue (or the
// connection's share of it) is full is still answered in order: if earlier
// requests of the connection are pending, a marker takes its place in the
// mailbox and the worker that reaches it sends the "overloaded" error, so
// the error never overtakes their replies (clients match replies to
// requests by order). A connection with twice MaxQueuedPerConn items
// pending is closed. Called on the event loop; body is copied.
func (c *Conn) enqueue(code uint16, body []byte, now time.Time) admission {
	s := c.srv
	global := s.queued.Add(1) <= int64(s.cfg.HandlerQueue)
	if !global {
		s.queued.Add(-1)
	}
	max := int32(s.cfg.MaxQueuedPerConn)
	marker := false
	c.mu.Lock()
	switch queued := c.queued.Load(); {
	case global && queued < max:
	case c.in == nil && !c.scheduled:
		c.mu.Unlock()
		if global {
			s.queued.Add(-1)
		}
		return refuseNow
	case queued+c.markers.Load() >= 2*max:
		c.mu.Unlock()
		if global {
			s.queued.Add(-1)
		}
		return refuseKick
	default:
		if global {
			s.queued.Add(-1)
		}
		marker, body = true, nil
	}
	if c.in == nil {
		c.in = newInbox()
	}
	c.in.add(code, marker, now, body)
	result := admitted
	if marker {
		c.markers.Add(1)
		result = refuseLate
	} else {
		c.queued.Add(1)
	}
	schedule := !c.scheduled
	c.scheduled = true
	c.mu.Unlock()
	if schedule {
		s.schedule(c)
	}
	return result
}

// inbox returns the inbox to serve next: what the last turn left of cur,
// else the mailbox's (taken whole, so the loop starts a new one). When no
// request waits it returns nil and clears scheduled, so that the next
// enqueue schedules the connection again: from then on the worker must
// not touch the mailbox (it may still hand on its reply batch, which is
// safe from any goroutine). Worker only.
func (c *Conn) inbox() *inbox {
	if c.cur != nil {
		if !c.cur.drained() {
			return c.cur
		}
		c.cur.release() // its last request was served
		c.cur = nil
	}
	c.mu.Lock()
	c.cur, c.in = c.in, nil
	if c.cur == nil {
		c.scheduled = false
	}
	c.mu.Unlock()
	return c.cur
}

// finishTurn ends a turn that served all it may (requestsPerTurn): it lets
// a drained inbox go and reports whether requests wait; if none do, it
// clears scheduled, like inbox. Worker only.
func (c *Conn) finishTurn() bool {
	if c.cur != nil && c.cur.drained() {
		c.cur.release()
		c.cur = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil && c.in == nil {
		c.scheduled = false
		return false
	}
	return true
}
