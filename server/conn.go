package server

import (
	"net"
	"sync"
	"sync/atomic"

	"wharf/engine"
	"wharf/packet"
)

// Conn is one client connection of the server, on any transport. Its
// methods are safe from any goroutine.
type Conn struct {
	srv *Server
	ec  engine.Conn

	// Owned by the connection's event loop (engine callbacks):
	dec  packet.Decoder
	last int64 // flood guard: next arrival at the sustained rate (bucket), or the previous packet (interval); UnixNano
	hits int   // flood guard (interval): consecutive packets closer than FloodInterval

	mu        sync.Mutex // guards the mailbox fields below
	head      *Request   // requests waiting for a worker, oldest first
	tail      *Request
	queued    int  // requests in the mailbox (counted in Server.queued too)
	markers   int  // "overloaded" markers in the mailbox (not counted there)
	scheduled bool // the connection is in the run queue or being served

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
// batch instead (see Flush): it is written, in order, with the replies of
// the turn, and a refusal of the batch is counted when the batch is handed
// to the transport rather than returned here.
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

// Flush hands the replies batched so far in the current worker turn to the
// transport now rather than when the turn ends. A handler about to block
// (on a database, say) calls it so that the replies to the requests before
// its own leave at once; without a turn it does nothing.
func (c *Conn) Flush() {
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
	defer c.bmu.Unlock()
	if !c.batching.Load() {
		return false, nil
	}
	if c.closed.Load() {
		return true, ErrClosed
	}
	o := c.out
	if o == nil {
		o = outPackets.Get().(*outPacket)
		c.out = o
	}
	if p != nil {
		o.b = append(o.b, p...)
	} else {
		var err error
		if o.b, err = packet.Append(o.b, code, body); err != nil {
			if o.n == 0 {
				c.out = nil
				o.done(nil, err)
			}
			return true, err
		}
	}
	o.n++
	if o.n >= c.srv.batchPackets || len(o.b) >= maxBatchBytes {
		c.flushLocked()
	}
	return true, nil
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
	c.Flush()
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

// enqueue adds r to the mailbox and schedules the connection for a worker.
// A request refused because the handler queue (or the connection's share of
// it) is full is still answered in order: if earlier requests of the
// connection are pending, a marker takes its place in the mailbox and the
// worker that reaches it sends the "overloaded" error, so the error never
// overtakes their replies (clients match replies to requests by order). A
// connection with twice MaxQueuedPerConn items pending is closed. Called on
// the event loop; r belongs to the mailbox unless the result is refuseNow or
// refuseKick.
func (c *Conn) enqueue(r *Request) admission {
	s := c.srv
	global := s.queued.Add(1) <= int64(s.cfg.HandlerQueue)
	if !global {
		s.queued.Add(-1)
	}
	c.mu.Lock()
	switch {
	case global && c.queued < s.cfg.MaxQueuedPerConn:
	case c.head == nil && !c.scheduled:
		c.mu.Unlock()
		if global {
			s.queued.Add(-1)
		}
		return refuseNow
	case c.queued+c.markers >= 2*s.cfg.MaxQueuedPerConn:
		c.mu.Unlock()
		if global {
			s.queued.Add(-1)
		}
		return refuseKick
	default:
		if global {
			s.queued.Add(-1)
		}
		r.overloaded = true
		r.Body = r.Body[:0]
		c.markers++
	}
	if c.tail == nil {
		c.head = r
	} else {
		c.tail.next = r
	}
	c.tail = r
	result := admitted
	if r.overloaded {
		result = refuseLate
	} else {
		c.queued++
	}
	schedule := !c.scheduled
	c.scheduled = true
	c.mu.Unlock()
	// r now belongs to the mailbox: a worker may already be serving it.
	if schedule {
		s.schedule(c)
	}
	return result
}

// pop takes the oldest request, or returns nil when the mailbox is empty
// (the worker then ends its turn and asks hasWork).
func (c *Conn) pop() *Request {
	c.mu.Lock()
	r := c.head
	if r == nil {
		c.mu.Unlock()
		return nil
	}
	c.head = r.next
	if c.head == nil {
		c.tail = nil
	}
	r.next = nil
	if r.overloaded {
		c.markers--
	} else {
		c.queued--
	}
	c.mu.Unlock()
	return r
}

// hasWork reports whether requests are queued, and otherwise clears
// scheduled (so the next enqueue schedules the connection again).
func (c *Conn) hasWork() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == nil {
		c.scheduled = false
		return false
	}
	return true
}
