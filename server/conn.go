package server

import (
	"net"
	"sync"
	"sync/atomic"

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

	mu        sync.Mutex // guards the mailbox fields below
	head      *Request   // requests waiting for a worker, oldest first
	tail      *Request
	queued    int  // requests in the mailbox (counted in Server.queued too)
	markers   int  // "overloaded" markers in the mailbox (not counted there)
	scheduled bool // the connection is in the run queue or being served

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
func (c *Conn) Send(code uint16, body []byte) error {
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

// outPacket is a pooled reply buffer: the engine reads it until the write
// is done, and the done callback puts it back (bound once per object, so
// sending allocates nothing).
type outPacket struct {
	b      []byte
	doneFn engine.WriteDone
}

// maxPooledPacket keeps large replies from staying in the pool.
const maxPooledPacket = 4096

var outPackets sync.Pool

func init() { // New refers to outPackets through done: set it after the var
	outPackets.New = func() any {
		o := &outPacket{}
		o.doneFn = o.done
		return o
	}
}

func (o *outPacket) done(engine.Conn, error) {
	if cap(o.b) <= maxPooledPacket {
		o.b = o.b[:0]
		outPackets.Put(o)
	}
}

func (c *Conn) sendPooled(o *outPacket) error {
	return c.countSend(c.ec.AsyncWrite(o.b, o.doneFn))
}

func (c *Conn) sendError(code uint16, msg string) error {
	return c.SendEncoded(encodeError(code, msg))
}

// SendEncoded queues p, one or more whole packets back to back (as
// packet.Append makes them), for the connection, without copying it: p
// must not be modified afterwards, and may be shared by any number of
// connections (the channels package hands the same publication to every
// subscriber this way). Like Send it never blocks, and fails with ErrClosed
// once the connection closed and ErrOverloaded (p is dropped and counted)
// while the server holds max_pending_total unsent packets. p counts as
// one entry of the connection's send queue (max_pending_per_conn), and a
// transport that frames its writes (WebSocket) sends it as one message.
func (c *Conn) SendEncoded(p []byte) error {
	return c.countSend(c.ec.AsyncWrite(p, nil))
}

// countSend counts a queued packet, or maps the engine's refusal.
func (c *Conn) countSend(err error) error {
	switch err {
	case nil:
		c.srv.ctr.packetsOut.Add(1)
		return nil
	case engine.ErrOverloaded:
		c.srv.ctr.dropped.Add(1)
		return ErrOverloaded
	case engine.ErrConnClosed, engine.ErrOutboundFull:
		return ErrClosed
	}
	return err
}

// Close closes the connection after its queued packets are written.
func (c *Conn) Close() error { return c.ec.Close() }

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

// pop takes the oldest request, or reports the mailbox empty and clears
// scheduled so the next enqueue schedules the connection again.
func (c *Conn) pop() *Request {
	c.mu.Lock()
	r := c.head
	if r == nil {
		c.scheduled = false
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
