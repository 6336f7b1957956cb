package tlsconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"

	"wharf/buffer"
	"wharf/engine"
)

// feedLimit is how many handshake bytes the loop moves into the feed
// before it leaves the rest in the raw connection's buffer (bounded by the
// engine's MaxInbound) until the handshake goroutine asks for them. A
// client's flight is a few KiB; only a client that keeps sending without
// waiting for the server gets near it.
const feedLimit = 64 << 10

// maxPlaintext is the most crypto/tls puts in one record.
const maxPlaintext = 1 << 14

// conn is one TLS connection over a raw engine connection. It is the
// engine.Codec of the Layered connection the Handler's inner handler sees,
// and, as *transport, the net.Conn its tls.Conn reads records from and
// writes records to.
//
// Life: OnOpen makes it; the first bytes that look like TLS start the
// handshake goroutine (hs set); when the handshake is done the goroutine
// hands the connection to the loop (open, through raw.Run) and exits: from
// then on records are decrypted in Decode on the loop and encrypted in
// Encode on the writer's goroutine, and no goroutine is left.
type conn struct {
	h   *Handler
	raw engine.Conn
	tc  *tls.Conn // nil until the first bytes are classified

	// Owned by the raw connection's callbacks (the loop). hs is also read
	// by the handshake goroutine, which it was made before.
	hs   *handshake      // while the handshake runs
	l    *engine.Layered // once open ran
	left []byte          // ciphertext that arrived during the handshake, not read yet: Decode reads it first
	ctx0 any             // the raw connection's context before OnOpen (engine.DialOptions.Context), for the Layered connection

	mu      sync.Mutex   // guards the fields below: the record sink
	onLoop  bool         // open ran: records sealed outside Encode wait in pending
	wire    *engine.Wire // the write Encode or Goodbye is sealing, if any
	pending [][]byte     // records sealed outside Encode (while reading: an alert, a KeyUpdate), owned copies
}

// handshake is the state a connection needs only while its handshake
// runs: the feed of ciphertext from the loop to the handshake goroutine.
type handshake struct {
	mu     sync.Mutex // guards the fields below
	cond   sync.Cond  // signalled when feed grows or closed is set
	feed   []byte     // ciphertext from OnData, feed[off:] unread
	off    int
	parked bool         // the loop left bytes in the raw connection (feed was full)
	closed *closedError // the raw connection closed: the feed ends
}

var _ engine.Codec = (*conn)(nil)

// startHandshake makes the tls.Conn and its goroutine. On the loop.
func (c *conn) startHandshake() {
	hs := &handshake{}
	hs.cond.L = &hs.mu
	c.hs = hs
	if c.h.cfg.Client {
		c.tc = tls.Client((*transport)(c), c.h.tls)
	} else {
		c.tc = tls.Server((*transport)(c), c.h.tls)
	}
	c.h.ctr.handshaking.Add(1)
	go c.runHandshake()
}

// runHandshake is the handshake goroutine: it exits when the handshake
// is done, or failed, or the raw connection closed under it.
func (c *conn) runHandshake() {
	h := c.h
	err := c.tc.HandshakeContext(context.Background())
	// The outcome is counted before Handshaking drops, so a reader that
	// sees Handshaking fall also sees where the handshake went.
	if err != nil {
		h.failed(c.raw, classifyFailure(err, h.cfg.Client), err)
		h.ctr.handshaking.Add(-1)
		c.raw.Close() // after the alert crypto/tls queued, if any
		return
	}
	h.ctr.ok.Add(1)
	st := c.tc.ConnectionState()
	if st.DidResume {
		h.ctr.resumed.Add(1)
	}
	switch st.Version {
	case tls.VersionTLS12:
		h.ctr.tls12.Add(1)
	case tls.VersionTLS13:
		h.ctr.tls13.Add(1)
	}
	h.ctr.handshaking.Add(-1)
	c.raw.Run(c.open) // dropped if the connection closed meanwhile
}

// open switches the connection to the loop once the handshake is done:
// bytes left in the feed become the start of Decode's input, and the
// inner handler gets OnOpen with the Layered connection. On the loop.
func (c *conn) open(raw engine.Conn) {
	hs := c.hs
	hs.mu.Lock()
	c.left = hs.feed[hs.off:]
	if len(c.left) == 0 {
		c.left = nil
	}
	hs.feed, hs.off = nil, 0
	hs.mu.Unlock()
	c.hs = nil
	c.mu.Lock()
	c.onLoop = true
	c.mu.Unlock()
	raw.SetDeadline(time.Time{}) // the handshake's; the inner handler sets its own
	c.l = engine.NewLayered(raw, c, c.h.inner)
	c.l.SetContext(c.ctx0)
	c.ctx0 = nil
	if err := c.l.Open(); err != nil {
		// Bytes that came with the handshake (a request, a close_notify)
		// were served inside a Run, which cannot close with a reason: the
		// connection closes after its backlog, and OnClose gets nil.
		if err == io.EOF {
			c.closeNotify()
		}
		raw.Close()
	}
}

// feed moves what the raw connection buffered to the handshake
// goroutine, or leaves it there while the feed is full. On the loop.
func (hs *handshake) push(raw engine.Conn) {
	hs.mu.Lock()
	if len(hs.feed)-hs.off < feedLimit {
		b, _ := raw.Next(-1)
		hs.feed = append(hs.feed, b...)
		hs.parked = false
		hs.cond.Signal()
	} else {
		hs.parked = true
	}
	hs.mu.Unlock()
}

// close ends the feed: the raw connection closed with cause. On the loop.
func (hs *handshake) close(cause error) {
	if cause == nil {
		cause = engine.ErrConnClosed
	}
	hs.mu.Lock()
	if hs.closed == nil {
		hs.closed = &closedError{cause: cause}
	}
	hs.cond.Broadcast()
	hs.mu.Unlock()
}

// read is the handshake goroutine's Read: it blocks until the loop has fed
// bytes or the connection closed.
func (c *conn) readFeed(p []byte) (int, error) {
	hs := c.hs
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for hs.off == len(hs.feed) {
		if hs.closed != nil {
			return 0, hs.closed
		}
		if hs.parked {
			// The loop stopped feeding; have it move the rest now.
			hs.parked = false
			hs.mu.Unlock()
			err := c.raw.Run(func(engine.Conn) {
				if c.hs == hs {
					hs.push(c.raw)
				}
			})
			hs.mu.Lock()
			if err != nil && hs.closed == nil {
				hs.closed = &closedError{cause: err}
			}
			continue
		}
		hs.cond.Wait()
	}
	n := copy(p, hs.feed[hs.off:])
	hs.off += n
	if hs.off == len(hs.feed) {
		hs.feed, hs.off = hs.feed[:0], 0
	}
	return n, nil
}

// closed ends the connection's TLS state when the raw connection closes:
// it wakes a handshake goroutine waiting for input. On the loop.
func (c *conn) closed(err error) {
	if c.hs != nil {
		c.hs.close(err)
	}
}

// --- the engine.Codec of the Layered connection ---

// Decode decrypts the records the raw connection buffered into in, on the
// loop. crypto/tls reads them through transport.Read, which hands it the
// raw connection's bytes and, once they run out, errWouldBlock; a partial
// record stays in crypto/tls's input buffer for the next call.
func (c *conn) Decode(raw engine.Conn, in *buffer.Buffer) error {
	if in.Len() > c.h.maxInbound {
		// As the engine does for a plain connection: the handler leaves
		// more than MaxInbound bytes unconsumed.
		return engine.ErrInboundFull
	}
	_, err := in.ReadFrom((*plaintext)(c))
	if err == errCloseNotify {
		err = io.EOF
	}
	if c.hasPending() { // an alert for a bad record, the answer to a KeyUpdate
		if ferr := c.l.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// Encode encrypts p into w. Layered serialises Encode; the records are
// copied into w as crypto/tls seals them (it reuses its record buffer).
func (c *conn) Encode(w *engine.Wire, p [][]byte) error {
	c.beginWire(w)
	err := c.seal(p)
	c.endWire()
	return err
}

// Goodbye seals a close_notify into w.
func (c *conn) Goodbye(w *engine.Wire) error {
	c.beginWire(w)
	err := c.tc.CloseWrite()
	c.endWire()
	return err
}

// beginWire makes w the sink of sealed records, behind those sealed
// outside Encode since the last write.
func (c *conn) beginWire(w *engine.Wire) {
	c.mu.Lock()
	for _, r := range c.pending {
		w.Append(r) // an owned copy, never modified
	}
	clear(c.pending)
	c.pending = c.pending[:0:0]
	c.wire = w
	c.mu.Unlock()
}

func (c *conn) endWire() {
	c.mu.Lock()
	c.wire = nil
	c.mu.Unlock()
}

func (c *conn) hasPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0
}

// seal writes p to the tls.Conn in as few records as it can: small slices
// are gathered up to a record's worth, so a header and a body written
// together cost one record, not two.
func (c *conn) seal(p [][]byte) error {
	if len(p) == 1 {
		_, err := c.tc.Write(p[0])
		return err
	}
	var gather *[]byte
	defer func() {
		if gather != nil {
			gatherPool.Put(gather)
		}
	}()
	var g []byte
	flush := func() error {
		if len(g) == 0 {
			return nil
		}
		_, err := c.tc.Write(g)
		g = g[:0]
		return err
	}
	for _, b := range p {
		if len(b) >= maxPlaintext {
			if err := flush(); err != nil {
				return err
			}
			if _, err := c.tc.Write(b); err != nil {
				return err
			}
			continue
		}
		if len(g)+len(b) > maxPlaintext {
			if err := flush(); err != nil {
				return err
			}
		}
		if gather == nil {
			gather = gatherPool.Get().(*[]byte)
			g = (*gather)[:0]
		}
		g = append(g, b...)
	}
	return flush()
}

var gatherPool = sync.Pool{New: func() any { b := make([]byte, 0, maxPlaintext); return &b }}

// closeNotify answers the peer's close_notify with ours, in order with
// the writes. On the loop.
func (c *conn) closeNotify() {
	c.tc.CloseWrite() // into pending: no Encode is sealing
	c.l.Flush()
}

// --- the plaintext side: what Decode reads ---

// plaintext is the io.Reader buffer.ReadFrom pulls decrypted bytes from.
type plaintext conn

func (p *plaintext) Read(b []byte) (int, error) {
	n, err := p.tc.Read(b)
	switch err {
	case errWouldBlock:
		err = io.EOF // all there is for now: ReadFrom stops
	case io.EOF:
		err = errCloseNotify
	}
	return n, err
}

// --- the record side: the net.Conn under the tls.Conn ---

// transport is the net.Conn crypto/tls reads ciphertext from and writes
// records to. During the handshake Read blocks on the feed (the handshake
// goroutine) and Write queues each flight on the raw connection; after it,
// Read hands over the raw connection's buffered bytes (the loop) and Write
// copies records into the write being encoded.
type transport conn

var _ net.Conn = (*transport)(nil)

func (t *transport) Read(p []byte) (int, error) {
	c := (*conn)(t)
	if c.hs != nil {
		return c.readFeed(p)
	}
	if len(c.left) > 0 {
		n := copy(p, c.left)
		c.left = c.left[n:]
		if len(c.left) == 0 {
			c.left = nil
		}
		return n, nil
	}
	b, _ := c.raw.Peek(-1)
	if len(b) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, b)
	c.raw.Discard(n)
	return n, nil
}

// Write takes one record (or a handshake flight); crypto/tls calls it
// with its output lock held, so calls arrive in sequence order.
func (t *transport) Write(b []byte) (int, error) {
	c := (*conn)(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.wire != nil:
		c.wire.Copy(b)
	case !c.onLoop:
		// The handshake goroutine, the only writer until open: its
		// AsyncWrites keep their order, and precede open's Run.
		if err := c.raw.AsyncWrite(bytes.Clone(b), nil); err != nil {
			return 0, err
		}
	default:
		c.pending = append(c.pending, bytes.Clone(b))
	}
	return len(b), nil
}

// Close is called by crypto/tls only if a handshake context ends, which
// never happens here (the handshake is bounded by the raw connection's
// deadline); it closes the raw connection.
func (t *transport) Close() error { return t.raw.Close() }

func (t *transport) LocalAddr() net.Addr  { return t.raw.LocalAddr() }
func (t *transport) RemoteAddr() net.Addr { return t.raw.RemoteAddr() }

// Deadlines are the engine's (raw.SetDeadline, on the loop); crypto/tls
// only sets a write deadline around close_notify, and writes never block.
func (t *transport) SetDeadline(time.Time) error      { return nil }
func (t *transport) SetReadDeadline(time.Time) error  { return nil }
func (t *transport) SetWriteDeadline(time.Time) error { return nil }
