package websocket

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"wharf/engine"
	"wharf/httpd"
)

// MessageType is the type of a data message.
type MessageType uint8

// Message types (their values are the frame opcodes).
const (
	MessageText   MessageType = MessageType(opText)
	MessageBinary MessageType = MessageType(opBinary)
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "text"
	case MessageBinary:
		return "binary"
	}
	return "MessageType(?)"
}

// streamMin is the smallest frame payload that streams into the message
// buffer as it arrives when the frame is not complete yet; smaller frames
// wait in the connection's inbound buffer until they are whole, and are
// then delivered in place.
const streamMin = 4 << 10

// Conn is a server-side WebSocket connection on an engine event loop.
//
// Methods fall in two groups, as engine.Conn's do.
//
// Any-goroutine methods (WriteMessage, WriteText, WriteBinary, Ping, Close,
// Run, Subprotocol, Compressed, Context, ID, LocalAddr, RemoteAddr,
// EngineConn) are safe from any goroutine at any time, also after the
// connection closed (writes then report ErrClosed). Writes never block:
// the frame is queued on the connection's loop (engine.Conn.AsyncWrite), so
// the engine's limits apply: a backlog over engine.Config.MaxOutbound bytes
// or MaxPendingPerConn messages closes the connection as a slow reader
// (engine.ErrOutboundFull), and over MaxPendingTotal the write is refused
// (engine.ErrOverloaded) and the connection stays.
//
// Loop methods (LoopWrite, SetIdleTimeout, SetContext) may be called only
// from the Handler's callbacks or from a function passed to Run.
//
// Frames go out in the order their writes were queued; a write made on the
// loop with LoopWrite goes out before writes other goroutines queued but
// the loop has not taken yet. Once a close frame is queued, no data frame
// follows it.
type Conn struct {
	ec  engine.Conn // set in OnUpgrade, before anything else sees the Conn; immutable
	srv *Server     // immutable

	// Owned by the event loop:
	r      msgReader
	ctx    any                // set in OnOpen (SetContext), read anywhere
	remote *CloseError        // the peer's close, when it closed first
	st     *streamState       // a stream Server's connection (stream.go), nil otherwise
	hdr    [maxHeaderLen]byte // frame headers written on the loop (a stack array would escape through engine.Conn.Write)

	proto    uint8 // 1 + index in Config.Subprotocols of the negotiated one, 0: none; immutable
	compress bool  // permessage-deflate: this side may compress; immutable
	resetOut bool  // no server context takeover: compress each message alone; immutable

	// flags are the close state (the flag constants). Atomic: the done
	// callback of the close frame reads them, and on the goroutine
	// backends it does not run with the connection's callbacks.
	flags atomic.Uint32

	wmu   sync.Mutex  // guards the fields below and the order of queued frames
	local *CloseError // the close frame this side sent
	cw    *deflater   // the kept compressor (server context takeover), nil otherwise
}

// Close state flags (Conn.flags).
const (
	flagCloseSent uint32 = 1 << iota // a close frame is queued (set under wmu): no more frames
	flagCloseDone                    // this side's close frame reached the socket (or failed to)
	flagCloseRecv                    // the peer's close frame arrived
	flagFailed                       // this side failed the connection: inbound is dropped
	flagClosed                       // OnClose ran
)

func (c *Conn) has(f uint32) bool { return c.flags.Load()&f != 0 }
func (c *Conn) set(f uint32)      { c.flags.Or(f) }

// connProto is Conn's face towards httpd (httpd.Protocol), kept off
// Conn's exported method set.
type connProto Conn

var _ httpd.Protocol = (*connProto)(nil)

// Subprotocol is the subprotocol negotiated in the handshake, "" if none.
func (c *Conn) Subprotocol() string {
	if c.proto == 0 {
		return ""
	}
	return c.srv.cfg.Subprotocols[c.proto-1]
}

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.r.deflate }

// ID is the engine connection's id: unique within the engine, never reused.
func (c *Conn) ID() uint64 { return c.ec.ID() }

// LocalAddr is the server's address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.ec.LocalAddr() }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ec.RemoteAddr() }

// EngineConn is the engine connection under the WebSocket: for its
// counters (Pending, OutboundBuffered on the loop) and its loop. Writing to
// it directly would corrupt the stream.
func (c *Conn) EngineConn() engine.Conn { return c.ec }

// SetContext attaches a user value. Loop only: set it in OnOpen, before
// other goroutines see the Conn; Context may then be read anywhere.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Context returns the value set by SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetIdleTimeout closes the connection (abnormally, 1006 with
// engine.ErrIdleTimeout) after d without inbound frames; 0 disables. Loop
// only. Config.IdleTimeout is the default.
func (c *Conn) SetIdleTimeout(d time.Duration) { c.ec.SetIdleTimeout(d) }

// Run runs fn on the connection's loop, where the loop methods may be
// used, unless the connection has closed by then.
func (c *Conn) Run(fn func(c *Conn)) error {
	return mapErr(c.ec.Run(func(engine.Conn) { fn(c) }))
}

// LoopWrite sends a message from the connection's loop: loop only (in the
// Handler's callbacks or a function passed to Run). It is the fast path
// for replies: the frame is appended to the connection's outbound buffer
// (one copy of p) and written with the other replies of the same read in
// one system call. When permessage-deflate was negotiated it queues the
// message like WriteMessage instead, so that compressed messages keep
// their order.
func (c *Conn) LoopWrite(typ MessageType, p []byte) error {
	op, err := dataOpcode(typ)
	if err != nil {
		return err
	}
	if c.compress {
		return c.queue(op, p, false, nil, nil)
	}
	if c.has(flagCloseSent) {
		return ErrClosed
	}
	if _, err := c.ec.Write(appendFrameHeader(c.hdr[:0], true, false, op, len(p), false, 0)); err != nil {
		return mapErr(err)
	}
	if _, err := c.ec.Write(p); err != nil {
		return mapErr(err)
	}
	c.srv.ctr.countOut(len(p))
	return nil
}

// loopWritev is LoopWrite of one message made of several slices.
func (c *Conn) loopWritev(op opcode, bufs [][]byte) error {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if c.compress {
		joined := make([]byte, 0, n)
		for _, b := range bufs {
			joined = append(joined, b...)
		}
		return c.queue(op, joined, false, nil, nil)
	}
	if c.has(flagCloseSent) {
		return ErrClosed
	}
	if _, err := c.ec.Write(appendFrameHeader(c.hdr[:0], true, false, op, n, false, 0)); err != nil {
		return mapErr(err)
	}
	for _, b := range bufs {
		if _, err := c.ec.Write(b); err != nil {
			return mapErr(err)
		}
	}
	c.srv.ctr.countOut(n)
	return nil
}

// WriteMessage queues a text or binary message; any goroutine. p is copied
// (or compressed) before WriteMessage returns, so the caller may reuse it.
// It never blocks; see Conn for the limits that apply.
func (c *Conn) WriteMessage(typ MessageType, p []byte) error {
	op, err := dataOpcode(typ)
	if err != nil {
		return err
	}
	return c.queue(op, p, false, nil, nil)
}

// WriteText queues a text message; any goroutine. s must be valid UTF-8.
func (c *Conn) WriteText(s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	return c.queue(opText, stringBytes(s), false, nil, nil)
}

// WriteBinary queues a binary message; any goroutine. p is copied.
func (c *Conn) WriteBinary(p []byte) error { return c.queue(opBinary, p, false, nil, nil) }

// Ping queues a ping with up to 125 bytes of payload; any goroutine. The
// peer's pong goes to PongHandler.OnPong if the Handler implements it.
func (c *Conn) Ping(p []byte) error {
	if len(p) > maxControlPayload {
		return ErrControlTooLong
	}
	return c.queue(opPing, p, false, nil, nil)
}

// Close starts the close handshake with a status code and a reason (at most
// 123 bytes of UTF-8); any goroutine. No message can be written after it.
// The connection closes when the peer answers, or after
// Config.CloseTimeout; OnClose then runs. Calling it again does nothing and
// returns nil.
func (c *Conn) Close(code StatusCode, reason string) error {
	if !code.Valid() {
		return ErrInvalidCloseCode
	}
	if len(reason) > maxControlPayload-2 {
		return ErrControlTooLong
	}
	if !utf8.ValidString(reason) {
		return ErrInvalidUTF8
	}
	err := c.sendClose(code, reason, nil)
	if err == ErrClosed {
		return nil
	}
	return err
}

func dataOpcode(typ MessageType) (opcode, error) {
	switch typ {
	case MessageText:
		return opText, nil
	case MessageBinary:
		return opBinary, nil
	}
	return 0, ErrMessageType
}

// mapErr turns the engine's "closed" into the package's.
func mapErr(err error) error {
	if err == engine.ErrConnClosed {
		return ErrClosed
	}
	return err
}

// queue sends one frame through the engine's ordered send queue (any
// goroutine): a copy of p, compressed when that was negotiated and p is
// large enough. With ref set, an uncompressed frame refers to p instead of
// copying it: the caller keeps p unchanged until then runs
// (engine.Conn.AsyncWrite's contract). then, if not nil, runs as then(tc,
// err) on the loop when the frame was written or failed.
func (c *Conn) queue(op opcode, p []byte, ref bool, then engine.WriteDone, tc engine.Conn) error {
	o := getOutFrame()
	deflate := c.compress && !op.isControl() && len(p) >= c.srv.cfg.CompressionThreshold
	c.wmu.Lock()
	if c.has(flagCloseSent) {
		c.wmu.Unlock()
		putOutFrame(o)
		return ErrClosed
	}
	var err error
	switch {
	case deflate:
		var frame []byte
		o.b, frame = c.compressFrame(o.b, op, p)
		o.then, o.tc = then, tc
		err = c.ec.AsyncWrite(frame, o.doneFn)
	case ref:
		o.b = appendFrameHeader(o.b[:0], true, false, op, len(p), false, 0)
		o.bufs = [2][]byte{o.b, p}
		o.then, o.tc = then, tc
		err = c.ec.AsyncWritev(o.bufs[:], o.doneFn)
	default:
		o.b = appendFrameHeader(o.b[:0], true, false, op, len(p), false, 0)
		o.b = append(o.b, p...)
		o.then, o.tc = then, tc
		err = c.ec.AsyncWrite(o.b, o.doneFn)
	}
	c.wmu.Unlock()
	if err != nil {
		o.then = nil // the engine does not call done on error; neither do we
		putOutFrame(o)
		return mapErr(err)
	}
	if !op.isControl() {
		c.srv.ctr.countOut(len(p))
	}
	return nil
}

// compressFrame compresses p into a frame of op in buf's memory and
// returns buf (grown) and the frame, a subslice of it. c.wmu must be held
// (or the caller otherwise be the only writer): the kept compressor of
// context takeover is shared state.
func (c *Conn) compressFrame(buf []byte, op opcode, p []byte) (grown, frame []byte) {
	// Compress after a gap for the header, then put the header, whose
	// length depends on the compressed size, right before the payload.
	d := c.cw
	if d == nil {
		d = getDeflater(c.srv.cfg.CompressionLevel)
	}
	if cap(buf) < maxHeaderLen {
		buf = make([]byte, 0, 256)
	}
	b := d.compress(buf[:maxHeaderLen], p, c.resetOut)
	if c.cw == nil {
		putDeflater(c.srv.cfg.CompressionLevel, d)
	}
	n := len(b) - maxHeaderLen
	h := frameHeaderLen(n, false)
	appendFrameHeader(b[maxHeaderLen-h:maxHeaderLen-h], true, true, op, n, false, 0)
	return b, b[maxHeaderLen-h:]
}

// sendClose queues this side's close frame (any goroutine) and bounds the
// handshake with Config.CloseTimeout. code 0 sends an empty close frame
// (the answer to one without a code). cause is kept for OnClose.
func (c *Conn) sendClose(code StatusCode, reason string, cause error) error {
	if c.st != nil {
		// Through the layer, whose lock orders it after the messages
		// queued before it (streamCodec.Goodbye writes it).
		c.wmu.Lock()
		if c.local != nil || c.has(flagCloseSent) {
			c.wmu.Unlock()
			return ErrClosed
		}
		c.local = &CloseError{Code: code, Reason: reason, Err: cause}
		if code == 0 {
			c.local.Code = StatusNoStatusRcvd
		}
		c.wmu.Unlock()
		return c.st.layer.Close()
	}
	o := getOutFrame()
	o.b = o.b[:0]
	var payload [maxControlPayload]byte
	n := 0
	if code != 0 {
		binary.BigEndian.PutUint16(payload[:], uint16(code))
		n = 2 + copy(payload[2:], reason)
	}
	o.b = appendFrameHeader(o.b, true, false, opClose, n, false, 0)
	o.b = append(o.b, payload[:n]...)
	o.conn = c
	c.wmu.Lock()
	if c.has(flagCloseSent) {
		c.wmu.Unlock()
		putOutFrame(o)
		return ErrClosed
	}
	c.set(flagCloseSent)
	c.local = &CloseError{Code: code, Reason: reason, Err: cause}
	if code == 0 {
		c.local.Code = StatusNoStatusRcvd
	}
	err := c.ec.AsyncWrite(o.b, o.doneFn)
	c.wmu.Unlock()
	if err != nil {
		o.conn = nil
		putOutFrame(o)
		c.ec.Close()
		return mapErr(err)
	}
	c.ec.AfterFunc(c.srv.cfg.CloseTimeout, closeNow)
	return nil
}

// closeNow ends a close handshake the peer did not finish in time.
func closeNow(ec engine.Conn) { ec.Close() }

// closeWritten runs on the loop when this side's close frame reached the
// socket (or could not). The TCP connection closes once both close frames
// have been exchanged, or at once when this side failed the connection.
func (c *Conn) closeWritten(err error) {
	c.set(flagCloseDone)
	if c.has(flagCloseRecv|flagFailed) || err != nil {
		c.ec.Close()
	}
}

// fail fails the connection (RFC 6455 §7.1.7): a close frame with the
// error's code, then the TCP close; inbound data is dropped from here on.
func (c *Conn) fail(e *protoError) {
	if !c.has(flagFailed) {
		c.srv.ctr.protocolErrors.Add(1)
	}
	c.abort(e.code, e.reason, nil)
}

// abort closes the connection without waiting for the peer's close frame
// (on the loop): a close frame with code, then the TCP close once it is
// written; inbound data is dropped from here on. cause is kept for OnClose.
func (c *Conn) abort(code StatusCode, reason string, cause error) {
	if c.has(flagFailed) {
		return
	}
	c.set(flagFailed)
	c.r.discard()
	if c.sendClose(code, reason, cause) == ErrClosed {
		c.ec.Close() // a close frame was already queued: just close
	}
}

// OnUpgrade starts the connection on its loop once the 101 response is
// queued (httpd.Protocol).
func (p *connProto) OnUpgrade(ec engine.Conn) {
	c := (*Conn)(p)
	s := c.srv
	c.ec = ec
	if s.cfg.IdleTimeout > 0 {
		ec.SetIdleTimeout(s.cfg.IdleTimeout)
	}
	s.ctr.upgrades.Add(1)
	s.ctr.open.Add(1)
	if s.stream != nil {
		c.openStream(ec)
		return
	}
	s.h.OnOpen(c)
}

// OnData parses the frames buffered on the connection (httpd.Protocol).
func (p *connProto) OnData(ec engine.Conn) error {
	c := (*Conn)(p)
	if c.st != nil {
		c.streamInput(c.st.layer.Input()) // the layer calls readFrames (streamCodec.Decode)
		return nil
	}
	c.readFrames(ec)
	return nil
}

// readFrames parses the frames buffered on the connection and acts on them
// (on the loop).
func (c *Conn) readFrames(ec engine.Conn) {
	for !c.has(flagFailed | flagCloseRecv) {
		avail := ec.InboundBuffered()
		if avail == 0 {
			return
		}
		if c.r.streaming() {
			n := int(min(int64(avail), c.r.remain))
			b, _ := ec.Peek(n)
			ev, perr := c.r.piece(b, false)
			if perr != nil {
				c.fail(perr)
				break
			}
			c.handle(&ev)
			ec.Discard(n)
			c.r.release()
			continue
		}
		b, _ := ec.Peek(min(avail, maxHeaderLen))
		h, res := parseFrameHeader(b)
		switch res {
		case parseShort:
			return
		case parseLong:
			c.fail(errLength)
			continue
		}
		if perr := c.r.check(&h); perr != nil {
			c.fail(perr)
			break
		}
		total := int64(h.hlen) + h.length
		if int64(avail) >= total {
			b, _ = ec.Peek(int(total))
			ev, perr := c.r.frame(&h, b[h.hlen:])
			if perr != nil {
				c.fail(perr)
				break
			}
			c.handle(&ev)
			ec.Discard(int(total))
			c.r.release()
			continue
		}
		if h.op.isControl() || h.length < streamMin {
			return // wait for the whole frame
		}
		ec.Discard(int(h.hlen))
		c.r.begin(&h)
	}
	// Failed, or closed by the peer: nothing more is read.
	ec.Discard(-1)
}

// handle acts on what a frame completed (on the loop).
func (c *Conn) handle(ev *event) {
	s := c.srv
	switch ev.op {
	case 0:
	case opText, opBinary:
		s.ctr.countIn(len(ev.data))
		switch {
		case c.st == nil:
			s.h.OnMessage(c, MessageType(ev.op), ev.data)
		case ev.op == opBinary:
			c.st.sink.Write(ev.data)
		default:
			c.kick(StatusUnsupportedData, errTextOnStream)
		}
	case opPing:
		if !c.has(flagCloseSent) {
			// Answered on the loop, ahead of queued messages: pongs
			// need no order among data frames.
			if _, err := c.ec.Write(appendFrameHeader(c.hdr[:0], true, false, opPong, len(ev.data), false, 0)); err == nil {
				c.ec.Write(ev.data)
			}
		}
		if s.ping != nil {
			s.ping.OnPing(c, ev.data)
		}
	case opPong:
		if s.pong != nil {
			s.pong.OnPong(c, ev.data)
		}
	case opClose:
		c.set(flagCloseRecv)
		if !c.has(flagCloseSent) {
			c.remote = &CloseError{Code: ev.code, Reason: string(ev.data), Remote: true}
			// Echo the code (§5.5.1); an empty close gets an empty one.
			code := ev.code
			if code == StatusNoStatusRcvd {
				code = 0
			}
			if c.sendClose(code, "", nil) == ErrClosed {
				c.ec.Close()
			}
			return
		}
		if c.has(flagCloseDone) {
			c.ec.Close() // (closeWritten may close too: Close is idempotent)
		}
	}
}

// OnClose reports how the connection ended and releases its buffers
// (httpd.Protocol).
func (p *connProto) OnClose(ec engine.Conn, err error) {
	c := (*Conn)(p)
	c.set(flagClosed | flagCloseSent) // no more writes: they would fail anyway
	c.r.discard()
	c.wmu.Lock()
	local := c.local
	c.cw = nil
	c.wmu.Unlock()
	var ce *CloseError
	switch {
	case c.remote != nil:
		ce = c.remote
	case local != nil:
		ce = local
	default:
		ce = &CloseError{Code: StatusAbnormalClosure, Err: err}
		c.srv.ctr.abnormal.Add(1)
	}
	c.srv.ctr.open.Add(-1)
	c.srv.ctr.closed.Add(1)
	if c.st != nil {
		c.streamClosed(ce)
		return
	}
	c.srv.h.OnClose(c, ce)
}

// OnShutdown says goodbye with 1001 when the HTTP server shuts down
// (httpd.Protocol).
func (p *connProto) OnShutdown(engine.Conn) {
	(*Conn)(p).sendClose(StatusGoingAway, "server shutting down", nil)
}

// outFrame is a queued frame: pooled, with its done callback bound once,
// so queueing a frame allocates nothing.
type outFrame struct {
	b      []byte           // the frame (header and payload), or only its header
	bufs   [2][]byte        // header and caller's payload, for no-copy writes
	conn   *Conn            // set for a close frame: its done ends the handshake
	then   engine.WriteDone // the caller's done, for no-copy writes
	tc     engine.Conn      // the Conn then is called with
	doneFn engine.WriteDone
}

// maxPooledFrame keeps large frames' buffers out of the pool.
const maxPooledFrame = 64 << 10

var outFrames sync.Pool

func init() { // New refers to outFrames through done: set it after the var
	outFrames.New = func() any {
		o := &outFrame{b: make([]byte, 0, 256)}
		o.doneFn = o.done
		return o
	}
}

func getOutFrame() *outFrame { return outFrames.Get().(*outFrame) }

func putOutFrame(o *outFrame) {
	if cap(o.b) > maxPooledFrame {
		o.b = make([]byte, 0, 256)
	}
	o.b, o.bufs, o.conn, o.then, o.tc = o.b[:0], [2][]byte{}, nil, nil, nil
	outFrames.Put(o)
}

func (o *outFrame) done(_ engine.Conn, err error) {
	c, then, tc := o.conn, o.then, o.tc
	putOutFrame(o)
	if then != nil {
		then(tc, err)
	}
	if c != nil {
		c.closeWritten(err)
	}
}
