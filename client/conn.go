package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"wharf/packet"
)

// maxOutBytes bounds the encoded packets waiting for a write. Requests are
// bounded by their callers (each waits for its reply); Send is not, and past
// this the server is not reading as fast as the caller sends, so Send fails
// with ErrSendBufferFull instead of growing memory without limit.
const maxOutBytes = 4 << 20

// maxSpareBytes: an output buffer that grew past this during a burst is
// dropped after its write instead of being kept for reuse, so an idle
// connection does not pin a burst's memory.
const maxSpareBytes = 64 << 10

// errGone is returned by conn.send when the connection failed before the
// packet was queued: nothing was sent, so the caller may use the next
// connection.
var errGone = errors.New("client: connection gone")

// waiter is a request waiting for its reply. Waiters are pooled. While
// queued it belongs to its conn's queue (under conn.mu); whoever pops it
// (the reader with a reply, or fail) owns it and either recycles it
// (abandoned or discard) or fills in reply and err and signals done, handing
// it back to the requester, who recycles it.
type waiter struct {
	// Guarded by conn.mu:
	next      *waiter // queue link
	queued    bool    // in a queue; cleared by whoever pops it
	abandoned bool    // the requester gave up (timeout or cancel); set only while queued

	discard bool   // nobody waits (a keep-alive ping or Send): the reply is dropped; set before queueing
	dst     []byte // the reply is appended here; set before queueing

	// Written by the popper before it signals done; read by the requester after.
	reply []byte
	err   error

	done chan struct{} // 1-buffered; signalled once per use
}

var waiterPool = sync.Pool{New: func() any { return &waiter{done: make(chan struct{}, 1)} }}

func getWaiter() *waiter { return waiterPool.Get().(*waiter) }

func putWaiter(w *waiter) {
	w.next, w.queued, w.abandoned, w.discard = nil, false, false, false
	w.dst, w.reply, w.err = nil, nil, nil
	waiterPool.Put(w)
}

// waitQueue is the FIFO of one code's waiters: the server answers a
// connection's requests in order, so the oldest waiter of a code owns the
// next reply of that code.
type waitQueue struct{ head, tail *waiter }

func (q *waitQueue) push(w *waiter) {
	w.queued = true
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
}

func (q *waitQueue) pop() *waiter {
	w := q.head
	if w == nil {
		return nil
	}
	q.head = w.next
	if q.head == nil {
		q.tail = nil
	}
	w.next, w.queued = nil, false
	return w
}

// conn is one connection of a Client. The client's run goroutine reads it
// (readLoop). Request goroutines queue output and usually write it
// themselves (see send). No goroutine waits for anything else: keep-alive
// is a timer whose function runs only when it fires, and a flush goroutine
// exists only while output piled up behind a write. A parked goroutine
// costs a stack, and wharf-bench holds hundreds of thousands of clients.
type conn struct {
	c    *Client
	nc   net.Conn
	born time.Time // monotonic origin of lastSend

	lastSend atomic.Int64  // written by writers: time since born when the last write started
	recvd    atomic.Uint64 // written by the reader: packets read; read by keepAlive

	// bg counts the connection's background work: the keep-alive timer
	// while armed or running (one count, kept across re-arms) and each
	// flush goroutine. Adds happen under mu while err is nil, so once fail
	// has set err, bg.Wait (by the run goroutine) waits for all of it.
	bg sync.WaitGroup

	notice string // owned by the reader: the server's last code-0 notice ("server shutting down")

	mu     sync.Mutex // guards the fields below
	queues map[uint16]*waitQueue
	// out holds encoded packets not yet handed to a write; spare is the
	// other buffer, put back after each write, so steady traffic reuses two
	// buffers and allocates nothing.
	out, spare []byte
	// writing is true while a goroutine is writing or a flush goroutine
	// is on its way; then new packets only go into out, and that goroutine
	// writes them.
	writing bool
	err     error // why the connection failed (ErrClosed or a *ConnError); nil while it works

	ka          *time.Timer // keep-alive: runs keepAlive; nil when disabled
	pinged      bool        // keepAlive sent a ping at its previous run
	recvdAtPing uint64      // recvd then
}

func newConn(c *Client, nc net.Conn) *conn {
	cn := &conn{c: c, nc: nc, born: time.Now(), queues: make(map[uint16]*waitQueue)}
	if ka := c.cfg.KeepAlive; ka > 0 {
		cn.mu.Lock() // keepAlive reads cn.ka under mu; it may fire before AfterFunc returns
		cn.bg.Add(1)
		cn.ka = time.AfterFunc(ka, cn.keepAlive)
		cn.mu.Unlock()
	}
	return cn
}

// send queues one packet and, unless w is nil, its waiter, in one critical
// section: so a code's waiters are queued in the order of their packets on
// the wire, which is the order of the replies. Then it gets the bytes
// written without ever writing under the lock: if no write is in progress,
// this goroutine writes out everything queued (its packet and any queued
// before it) with one Write; otherwise the goroutine writing picks the
// packet up with its next Write. When more output piled up during a direct
// write, the flush is handed to a new goroutine rather than kept, so a
// caller writes at most once and returns to wait for its reply, while under
// load one Write carries many packets.
//
// It returns errGone (nothing was sent) if the connection has failed, and
// ErrSendBufferFull. A write failure after queueing fails the connection,
// which answers w with the connection's error.
func (cn *conn) send(code uint16, body []byte, w *waiter) error {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return errGone
	}
	if len(cn.out) >= maxOutBytes {
		cn.mu.Unlock()
		return ErrSendBufferFull
	}
	// The caller checked the size against MaxPacket <= MaxPacketLimit,
	// Append's only failure.
	cn.out, _ = packet.Append(cn.out, code, body)
	if w != nil {
		q := cn.queues[code]
		if q == nil {
			q = new(waitQueue)
			cn.queues[code] = q
		}
		q.push(w)
	}
	cn.c.ctr.sent.Add(1)
	if cn.writing {
		cn.mu.Unlock()
		return nil
	}
	cn.writing = true
	buf := cn.takeLocked()
	cn.mu.Unlock()

	err := cn.write(buf)

	cn.mu.Lock()
	cn.giveBackLocked(buf)
	more := err == nil && cn.err == nil && len(cn.out) > 0
	if more {
		cn.bg.Add(1) // writing passes to the flush goroutine
	} else {
		cn.writing = false
	}
	cn.mu.Unlock()
	if err != nil {
		cn.fail(err)
	} else if more {
		go cn.flush()
	}
	return nil
}

// takeLocked takes the queued output for a write. cn.mu must be held.
func (cn *conn) takeLocked() []byte {
	buf := cn.out
	cn.out = cn.spare[:0]
	cn.spare = nil
	return buf
}

// giveBackLocked keeps a written buffer for reuse. cn.mu must be held.
func (cn *conn) giveBackLocked(buf []byte) {
	if cap(buf) <= maxSpareBytes && cn.err == nil {
		cn.spare = buf[:0]
	}
}

// write writes b with the write deadline and notes the time for keep-alive.
// Called only by the goroutine that set writing.
func (cn *conn) write(b []byte) error {
	now := time.Now()
	cn.lastSend.Store(int64(now.Sub(cn.born)))
	if wt := cn.c.cfg.WriteTimeout; wt > 0 {
		cn.nc.SetWriteDeadline(now.Add(wt))
	}
	n, err := cn.nc.Write(b)
	cn.c.ctr.bytesSent.Add(uint64(n))
	return err
}

// flush writes queued output until none is left. It runs on its own
// goroutine, started by send, which handed it writing.
func (cn *conn) flush() {
	defer cn.bg.Done()
	var buf []byte
	for {
		cn.mu.Lock()
		if buf != nil {
			cn.giveBackLocked(buf)
		}
		if len(cn.out) == 0 || cn.err != nil {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		buf = cn.takeLocked()
		cn.mu.Unlock()
		if err := cn.write(buf); err != nil {
			cn.fail(err)
			return
		}
	}
}

// keepAlive runs when the keep-alive timer fires, on a goroutine of its
// own. It sends a ping if nothing was sent for KeepAlive, fails the
// connection if nothing at all arrived since the ping it sent a KeepAlive
// ago, and re-arms the timer for the next moment a ping could be due. Runs
// never overlap: each re-arms the timer as its last step.
func (cn *conn) keepAlive() {
	ka := cn.c.cfg.KeepAlive
	next := ka
	cn.mu.Lock()
	dead := cn.pinged && cn.recvd.Load() == cn.recvdAtPing
	cn.pinged = false
	cn.mu.Unlock()
	if dead {
		cn.fail(ErrKeepAlive) // nothing arrived, not even the pong
	} else if idle := time.Since(cn.born) - time.Duration(cn.lastSend.Load()); idle < ka {
		next = ka - idle // sent recently: no ping
	} else {
		w := getWaiter()
		w.discard = true // the pong is dropped, but keeps its place in the code 0 queue
		recvd := cn.recvd.Load()
		if cn.send(packet.CodePing, nil, w) != nil {
			putWaiter(w) // not queued: the connection is gone
		} else {
			cn.c.ctr.keepAlives.Add(1)
			cn.mu.Lock()
			cn.pinged, cn.recvdAtPing = true, recvd
			cn.mu.Unlock()
		}
	}
	// Re-arm under mu, where fail sets err: either this re-arms before
	// fail, whose Stop then succeeds and releases the count, or it sees err
	// and releases the count itself.
	cn.mu.Lock()
	if cn.err == nil {
		cn.ka.Reset(next)
		cn.mu.Unlock()
		return
	}
	cn.mu.Unlock()
	cn.bg.Done()
}

// pop takes the oldest waiter for code, or nil.
func (cn *conn) pop(code uint16) *waiter {
	cn.mu.Lock()
	var w *waiter
	if q := cn.queues[code]; q != nil {
		w = q.pop()
	}
	cn.mu.Unlock()
	return w
}

// abandon marks w, whose requester gives up, so that its reply is dropped
// when it comes. It reports false if w was already popped: then its result
// is being delivered and the requester must receive it from done.
func (cn *conn) abandon(w *waiter) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if !w.queued {
		return false
	}
	w.abandoned = true
	return true
}

// deliver hands a popped waiter its result: body (copied: it aliases the
// reader's buffer) or err. A reply nobody waits for any more is dropped.
func (cn *conn) deliver(w *waiter, body []byte, err error) {
	switch {
	case w.abandoned:
		cn.c.ctr.late.Add(1)
		putWaiter(w)
	case w.discard:
		putWaiter(w)
	default:
		if err == nil {
			w.reply = append(w.dst, body...)
		} else {
			w.reply, w.err = w.dst, err
		}
		w.done <- struct{}{}
	}
}

// readLoop reads and dispatches packets until the connection fails, then
// fails it (if nothing else did first). It runs on the client's run
// goroutine.
func (cn *conn) readLoop() {
	c := cn.c
	rd := packet.NewReader(cn.nc)
	rd.MaxPacket = c.cfg.MaxPacket
	for {
		code, body, err := rd.ReadPacket()
		if err != nil {
			if errors.Is(err, packet.ErrChecksum) || errors.Is(err, packet.ErrTooManyBadPackets) {
				c.ctr.badPackets.Add(1) // the packet is dropped
				if !packet.Fatal(err) {
					continue // the stream is still in step
				}
			}
			if cn.notice != "" {
				err = fmt.Errorf("server notice %q, then %w", cn.notice, err)
			}
			cn.fail(err)
			return
		}
		cn.recvd.Add(1)
		c.ctr.received.Add(1)
		c.ctr.bytesReceived.Add(uint64(packet.HeaderSize + len(body)))
		cn.dispatch(code, body)
	}
}

// errorBody is the JSON of a code 1 packet. Code is a pointer to tell a
// missing field from code 0.
type errorBody struct {
	Code  *uint16 `json:"code"`
	Error string  `json:"error"`
}

// dispatch routes one packet: a reply to its waiter, anything else to OnPush.
func (cn *conn) dispatch(code uint16, body []byte) {
	c := cn.c
	if code == packet.CodeError {
		var eb errorBody
		if json.Unmarshal(body, &eb) != nil || eb.Code == nil {
			c.push(code, body)
			return
		}
		if *eb.Code == packet.CodePing {
			// The server never fails a ping: code 0 errors are notices
			// about the connection itself, like the shutdown notice.
			cn.notice = eb.Error
			c.push(code, body)
			return
		}
		var w *waiter
		if !c.cfg.isPush(*eb.Code) {
			w = cn.pop(*eb.Code)
		}
		if w == nil {
			c.push(code, body)
			return
		}
		c.ctr.serverErrors.Add(1)
		cn.deliver(w, nil, &ServerError{Code: *eb.Code, Message: eb.Error})
		return
	}
	if c.cfg.isPush(code) {
		c.push(code, body)
		return
	}
	w := cn.pop(code)
	if w == nil {
		c.push(code, body)
		return
	}
	c.ctr.replies.Add(1)
	cn.deliver(w, body, nil)
}

// fail ends the connection once: it records why, detaches the connection
// from the client, closes the socket (which stops the reader and any write
// in progress), stops the keep-alive timer and answers every waiter with the
// error. Safe from any goroutine; later calls do nothing.
func (cn *conn) fail(cause error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	if cause != ErrClosed {
		cause = &ConnError{Addr: cn.c.addr, Err: cause}
	}
	cn.err = cause
	ka := cn.ka
	var list *waiter
	for _, q := range cn.queues {
		for w := q.pop(); w != nil; w = q.pop() {
			w.next, list = list, w
		}
	}
	cn.out, cn.spare = nil, nil
	cn.mu.Unlock()

	cn.c.detach(cn) // first: requests spin on errGone until it is done
	cn.nc.Close()   // stops the reader and any write in progress
	if ka != nil && ka.Stop() {
		cn.bg.Done() // the timer was armed and will not run; else keepAlive releases the count
	}
	for w := list; w != nil; {
		next := w.next
		w.next = nil
		if w.abandoned || w.discard {
			putWaiter(w)
		} else {
			w.reply, w.err = w.dst, cause
			w.done <- struct{}{}
		}
		w = next
	}
}
