package engine

import (
	"net"
	"os"
	"sync"
	"time"

	"wharf/buffer"
)

// A Codec is the protocol of a Layered connection: it turns the raw byte
// stream of an engine connection (TLS records, WebSocket frames) into the
// byte stream its Handler sees, and the Handler's writes back into wire
// bytes.
type Codec interface {
	// Decode consumes what it can of the raw connection's inbound bytes
	// (raw.Peek, raw.Next, raw.Discard) and appends the bytes they decode
	// to in. It runs in the raw connection's OnData, on its loop, and
	// leaves a partial unit (half a record) unconsumed for the next call.
	// An error closes the connection with that error, after the Handler
	// got what Decode appended before it: io.EOF says the peer closed the
	// protocol (a TLS close_notify, a WebSocket close frame).
	Decode(raw Conn, in *buffer.Buffer) error
	// Encode appends the wire form of p to w. Calls are serialised, in the
	// order of the writes, and may run on any goroutine; the bytes of p
	// stay unmodified until the write completes, so Encode may reference
	// them (Wire.Append) instead of copying. p is empty when Layered.Flush
	// asks only for what the codec produced outside Encode.
	Encode(w *Wire, p [][]byte) error
	// Goodbye appends what the protocol sends before a graceful close (a
	// TLS close_notify, a WebSocket close frame), if anything.
	Goodbye(w *Wire) error
}

// Wire collects the raw bytes of one write of a Layered connection: they go
// to the raw connection in one AsyncWritev, and the memory Copy took is
// recycled once they are written.
type Wire struct {
	bufs  [][]byte
	owned []*[]byte // Copy's buffers, from wirePool

	// The write in flight, for written (bound once per Wire, which the
	// pool reuses, so a write allocates no closure).
	l       *Layered
	done    WriteDone
	msgs    int       // messages the write counts as (AsyncWriteBatch); 0 is 1
	in      [1][]byte // the one buffer of a Write or AsyncWrite
	inOwned *[]byte   // Write's copy of its buffer, from wirePool
	written WriteDone // w.complete, bound once
}

// complete is the raw connection's done callback for the write.
func (w *Wire) complete(_ Conn, err error) {
	l, done := w.l, w.done
	w.release()
	if done != nil {
		done(l, err)
	}
}

// Append adds b to the write without copying; b must stay unmodified until
// the write completes (Encode's p does).
func (w *Wire) Append(b []byte) {
	if len(b) > 0 {
		w.bufs = append(w.bufs, b)
	}
}

// Copy adds a copy of b to the write: for bytes the encoder reuses at once
// (crypto/tls's record buffer).
func (w *Wire) Copy(b []byte) {
	if len(b) == 0 {
		return
	}
	bp := wirePool.Get().(*[]byte)
	buf := append((*bp)[:0], b...)
	*bp = buf
	w.owned = append(w.owned, bp)
	w.bufs = append(w.bufs, buf)
}

func (w *Wire) release() {
	for _, bp := range w.owned {
		putWireBuf(bp)
	}
	if w.inOwned != nil {
		putWireBuf(w.inOwned)
	}
	clear(w.owned)
	clear(w.bufs)
	w.owned, w.bufs = w.owned[:0], w.bufs[:0]
	w.l, w.done, w.in[0], w.inOwned, w.msgs = nil, nil, nil, nil, 0
	wires.Put(w)
}

func putWireBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledWire {
		wirePool.Put(bp)
	}
}

func getWire() *Wire {
	w := wires.Get().(*Wire)
	if w.written == nil {
		w.written = w.complete
	}
	return w
}

// maxPooledWire keeps buffers of about a TLS record (16 KiB plus overhead)
// in the pool and lets larger ones go.
const maxPooledWire = 17 << 10

var (
	wirePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
	wires    = sync.Pool{New: func() any { return new(Wire) }}
)

// Layered is a connection seen through a Codec: a Conn whose inbound bytes
// are what the codec decoded from a raw engine connection, and whose writes
// the codec encodes onto it. TLS and the packet protocol over WebSocket are
// Layered connections. Everything else (loop, timers, limits, stats, close
// reasons) is the raw connection's: the Layered connection's callbacks run
// inside the raw connection's, on its loop, and its writes count as the raw
// connection's AsyncWrites (MaxPendingPerConn, MaxPendingTotal, MaxOutbound).
//
// The owner of the raw connection (its Handler) creates it with NewLayered,
// calls Open once, Input from the raw connection's OnData, and Closed from
// its OnClose. A Layered connection keeps itself as the raw connection's
// context (SetContext), so LayeredOf finds it from the raw Conn (in
// Engine.Each, say); its own context is separate.
type Layered struct {
	raw   Conn
	codec Codec
	h     Handler

	in     buffer.Buffer // decoded bytes; owned by the raw connection's callbacks
	ctx    any           // SetContext's value
	opened bool          // Open ran; owned by the raw connection's callbacks

	wmu sync.Mutex // serialises Encode and the AsyncWritev that follows it
}

var _ Conn = (*Layered)(nil)

// NewLayered layers codec over raw for h. Call it from raw's callbacks.
func NewLayered(raw Conn, codec Codec, h Handler) *Layered {
	l := &Layered{raw: raw, codec: codec, h: h}
	l.in.Init(nil)
	raw.SetContext(l)
	return l
}

// LayeredOf returns the Layered connection over raw, if there is one.
func LayeredOf(raw Conn) (*Layered, bool) {
	l, ok := raw.Context().(*Layered)
	return l, ok
}

// Raw is the connection under the layer.
func (l *Layered) Raw() Conn { return l.raw }

// Codec is the codec the connection was layered with.
func (l *Layered) Codec() Codec { return l.codec }

// Open runs the Handler's OnOpen, then decodes and delivers whatever the
// raw connection already buffered. Call it once, from raw's callbacks.
func (l *Layered) Open() error {
	l.opened = true
	l.h.OnOpen(l)
	return l.Input()
}

// Input decodes the raw connection's buffered bytes and runs the Handler's
// OnData if that produced any. Call it from raw's OnData and return its
// error. A Decode error is returned after the Handler got the bytes
// decoded before it (a request and a close_notify read together: the
// request is served).
func (l *Layered) Input() error {
	derr := l.codec.Decode(l.raw, &l.in)
	if l.in.Len() == 0 {
		return derr
	}
	err := l.h.OnData(l)
	l.in.Release() // as the engine does after OnData: an idle connection holds no chunk
	if derr != nil {
		return derr
	}
	return err
}

// Flush hands the raw connection what the codec produced outside Encode,
// in order with the writes: it runs Encode with no bytes. crypto/tls, for
// one, seals records while it reads (an alert, the answer to a KeyUpdate),
// and those must reach the socket in sequence with the records of the
// writes. Any goroutine; not from inside Encode or Goodbye.
func (l *Layered) Flush() error { return l.write(getWire(), [][]byte{}, nil) }

// Closed runs the Handler's OnClose with err, if Open ran. Call it from the
// raw connection's OnClose.
func (l *Layered) Closed(err error) {
	if l.opened {
		l.opened = false
		l.h.OnClose(l, err)
	}
	l.in.Reset()
}

// Watermark forwards the raw connection's watermark to the Handler, if it
// is a WatermarkHandler. Call it from the raw connection's OnWatermark.
func (l *Layered) Watermark(high bool) {
	if wm, ok := l.h.(WatermarkHandler); ok && l.opened {
		wm.OnWatermark(l, high)
	}
}

// write encodes bufs (w.in, when nil) into w and hands the result to the
// raw connection in one write (AsyncWriteBatch of w.msgs); done (if set) runs with l once it is
// written. w is released when the write completes or fails.
func (l *Layered) write(w *Wire, bufs [][]byte, done WriteDone) error {
	if bufs == nil {
		bufs = w.in[:]
	}
	w.l, w.done = l, done
	l.wmu.Lock()
	err := l.codec.Encode(w, bufs)
	if err == nil {
		err = l.send(w)
	}
	l.wmu.Unlock()
	if err != nil {
		w.release()
	}
	return err
}

// send hands w to the raw connection; l.wmu is held.
func (l *Layered) send(w *Wire) error {
	if len(w.bufs) == 0 {
		if done := w.done; done != nil {
			// Nothing to write: complete in order behind the writes queued.
			w.release()
			return l.raw.Run(func(Conn) { done(l, nil) })
		}
		w.release()
		return nil
	}
	return l.raw.AsyncWriteBatch(w.bufs, w.msgs, w.written)
}

// --- inbound (callbacks only) ---

func (l *Layered) Peek(n int) ([]byte, error) { return peekIn(&l.in, n) }
func (l *Layered) Next(n int) ([]byte, error) { return nextIn(&l.in, n) }
func (l *Layered) Discard(n int) (int, error) { return discardIn(&l.in, n) }
func (l *Layered) InboundBuffered() int       { return l.in.Len() }

// --- outbound ---

// Write copies p and queues it like AsyncWrite: every write of a Layered
// connection goes through the codec in one order, and reaches the socket in
// the raw connection's next flush (in the same loop iteration when called
// from a callback).
func (l *Layered) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := getWire()
	bp := wirePool.Get().(*[]byte)
	*bp = append((*bp)[:0], p...)
	w.in[0], w.inOwned = *bp, bp
	if err := l.write(w, nil, nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *Layered) Writev(bufs [][]byte) (int, error) { return writeEach(l.Write, bufs) }

// OutboundBuffered reports the raw connection's backlog, in wire bytes.
func (l *Layered) OutboundBuffered() int { return l.raw.OutboundBuffered() }

func (l *Layered) AsyncWrite(p []byte, done WriteDone) error {
	w := getWire()
	w.in[0] = p
	return l.write(w, nil, done)
}

func (l *Layered) AsyncWritev(bufs [][]byte, done WriteDone) error {
	return l.write(getWire(), bufs, done)
}

// AsyncWriteBatch encodes bufs as one write (one TLS record for a batch of
// small messages) that counts as n messages on the raw connection.
func (l *Layered) AsyncWriteBatch(bufs [][]byte, n int, done WriteDone) error {
	w := getWire()
	w.msgs = n
	return l.write(w, bufs, done)
}

// AsyncSendFile reads the range into memory and writes it through the
// codec: a layer must see every byte, so there is no sendfile.
func (l *Layered) AsyncSendFile(f *os.File, off, n int64, done WriteDone) error {
	if done == nil {
		return ErrNilDone
	}
	buf := make([]byte, n)
	if got, err := f.ReadAt(buf, off); int64(got) < n {
		if err == nil {
			err = os.ErrClosed
		}
		return &OpError{Op: "sendfile", Err: err}
	}
	return l.AsyncWrite(buf, done)
}

func (l *Layered) SetIdleTimeout(d time.Duration) { l.raw.SetIdleTimeout(d) }
func (l *Layered) SetDeadline(t time.Time)        { l.raw.SetDeadline(t) }
func (l *Layered) SetContext(ctx any)             { l.ctx = ctx }
func (l *Layered) Context() any                   { return l.ctx }

func (l *Layered) Run(fn func(c Conn)) error {
	return l.raw.Run(func(Conn) { fn(l) })
}

func (l *Layered) AfterFunc(d time.Duration, fn func(c Conn)) error {
	return l.raw.AfterFunc(d, func(Conn) { fn(l) })
}

// Close sends the codec's goodbye behind the queued writes, then closes the
// raw connection after its backlog.
func (l *Layered) Close() error {
	w := getWire()
	w.l = l
	l.wmu.Lock()
	if err := l.codec.Goodbye(w); err == nil {
		l.send(w)
	} else {
		w.release()
	}
	l.wmu.Unlock()
	return l.raw.Close()
}

func (l *Layered) Pending() int         { return l.raw.Pending() }
func (l *Layered) ID() uint64           { return l.raw.ID() }
func (l *Layered) Loop() int            { return l.raw.Loop() }
func (l *Layered) LocalAddr() net.Addr  { return l.raw.LocalAddr() }
func (l *Layered) RemoteAddr() net.Addr { return l.raw.RemoteAddr() }
