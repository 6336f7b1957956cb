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
	last int64 // UnixNano of the previous packet, for the flood guard
	hits int   // consecutive packets closer than FloodInterval

	mu        sync.Mutex // guards the mailbox fields below
	head      *Request   // requests waiting for a worker, oldest first
	tail      *Request
	queued    int
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
	p, err := packet.Encode(code, body)
	if err != nil {
		return err
	}
	return c.sendPacket(p)
}

func (c *Conn) sendError(code uint16, msg string) error {
	return c.sendPacket(encodeError(code, msg))
}

// sendPacket queues an encoded packet. p is shared by broadcasts: the engine
// only reads it.
func (c *Conn) sendPacket(p []byte) error {
	err := c.ec.AsyncWrite(p, nil)
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

// enqueue adds r to the mailbox and schedules the connection for a worker.
// It reports false when the server's handler queue or this connection's
// share of it is full. Called on the event loop.
func (c *Conn) enqueue(r *Request) bool {
	s := c.srv
	if s.queued.Add(1) > int64(s.cfg.HandlerQueue) {
		s.queued.Add(-1)
		return false
	}
	c.mu.Lock()
	if c.queued >= s.cfg.MaxQueuedPerConn {
		c.mu.Unlock()
		s.queued.Add(-1)
		return false
	}
	if c.tail == nil {
		c.head = r
	} else {
		c.tail.next = r
	}
	c.tail = r
	c.queued++
	schedule := !c.scheduled
	c.scheduled = true
	c.mu.Unlock()
	if schedule {
		s.schedule(c)
	}
	return true
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
	c.queued--
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
