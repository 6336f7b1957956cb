package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"wharf/engine"
)

// fakeConn is an engine.Conn in memory, for driving the server's frame
// parser without sockets: inbound bytes are fed by the test, writes are
// collected, done callbacks run at once.
type fakeConn struct {
	in     []byte
	out    bytes.Buffer
	closed bool
	ctx    any
}

var _ engine.Conn = (*fakeConn)(nil)

func (f *fakeConn) Peek(n int) ([]byte, error) {
	if n <= 0 || n == len(f.in) {
		return f.in, nil
	}
	if n > len(f.in) {
		return f.in, io.ErrShortBuffer
	}
	return f.in[:n], nil
}
func (f *fakeConn) Next(n int) ([]byte, error) {
	p, err := f.Peek(n)
	f.in = f.in[len(p):]
	return p, err
}
func (f *fakeConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}
func (f *fakeConn) InboundBuffered() int                             { return len(f.in) }
func (f *fakeConn) Write(p []byte) (int, error)                      { return f.out.Write(p) }
func (f *fakeConn) Writev(bufs [][]byte) (int, error)                { return f.write(bufs) }
func (f *fakeConn) OutboundBuffered() int                            { return 0 }
func (f *fakeConn) SetIdleTimeout(time.Duration)                     {}
func (f *fakeConn) SetDeadline(time.Time)                            {}
func (f *fakeConn) SetContext(ctx any)                               { f.ctx = ctx }
func (f *fakeConn) Context() any                                     { return f.ctx }
func (f *fakeConn) Run(fn func(engine.Conn)) error                   { fn(f); return nil }
func (f *fakeConn) Close() error                                     { f.closed = true; return nil }
func (f *fakeConn) Pending() int                                     { return 0 }
func (f *fakeConn) ID() uint64                                       { return 1 }
func (f *fakeConn) Loop() int                                        { return 0 }
func (f *fakeConn) LocalAddr() net.Addr                              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr                             { return &net.TCPAddr{} }
func (f *fakeConn) AfterFunc(time.Duration, func(engine.Conn)) error { return nil }
func (f *fakeConn) AsyncSendFile(*os.File, int64, int64, engine.WriteDone) error {
	return errors.ErrUnsupported
}
func (f *fakeConn) AsyncWrite(p []byte, done engine.WriteDone) error {
	f.out.Write(p)
	if done != nil {
		done(f, nil)
	}
	return nil
}
func (f *fakeConn) AsyncWritev(bufs [][]byte, done engine.WriteDone) error {
	f.write(bufs)
	if done != nil {
		done(f, nil)
	}
	return nil
}
func (f *fakeConn) AsyncWriteBatch(bufs [][]byte, _ int, done engine.WriteDone) error {
	return f.AsyncWritev(bufs, done)
}
func (f *fakeConn) write(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		f.out.Write(b)
		n += len(b)
	}
	return n, nil
}

// recorder is a Handler that logs what it sees.
type recorder struct {
	log   []string
	close *CloseError
}

func (r *recorder) OnOpen(*Conn) {}
func (r *recorder) OnMessage(c *Conn, typ MessageType, data []byte) {
	r.log = append(r.log, fmt.Sprintf("%v %q", typ, data))
}
func (r *recorder) OnClose(c *Conn, err error) { r.close = err.(*CloseError) }

// drive feeds input to a fresh server connection in pieces of chunk bytes
// (whole when chunk <= 0) and returns what the handler saw and what the
// server wrote.
func drive(t testing.TB, cfg Config, input []byte, chunk int) (*recorder, []byte) {
	rec := &recorder{}
	s, err := NewServer(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeConn{}
	p := (*connProto)(s.newConn(&negotiation{deflate: cfg.Compression, params: deflateParams{serverNoCtx: true, clientNoCtx: true}}))
	p.OnUpgrade(fc)
	if chunk <= 0 {
		chunk = len(input) + 1
	}
	for len(input) > 0 && !fc.closed {
		k := min(chunk, len(input))
		// The engine hands over what was buffered plus the new bytes
		// (copied here, as the engine's buffer would).
		fc.in = append(bytes.Clone(fc.in), input[:k]...)
		input = input[k:]
		if err := p.OnData(fc); err != nil {
			t.Fatalf("OnData: %v", err)
		}
	}
	p.OnClose(fc, io.EOF)
	return rec, fc.out.Bytes()
}

// FuzzServerFrames feeds arbitrary bytes to the server's frame parser,
// whole and in pieces. It must never panic, must see the same messages and
// end the same way either way, and everything it writes must be valid
// unmasked frames.
func FuzzServerFrames(f *testing.F) {
	// Seeds: the frames of the table tests.
	m := func(fin bool, rsv, op byte, p []byte) []byte { return frameBytes(fin, rsv, op, p, true) }
	seeds := [][]byte{
		m(true, 0, 1, []byte("hello")),
		m(true, 0, 2, payloadOf(300)),
		append(m(false, 0, 1, []byte("frag1")), m(true, 0, 0, []byte("frag2"))...),
		append(append(m(false, 0, 1, []byte("a")), m(true, 0, 9, []byte("p"))...), m(true, 0, 0, []byte("b"))...),
		m(true, 0, 9, payloadOf(125)),
		m(true, 0, 9, payloadOf(126)),
		m(true, 0, 8, closeWith(1000, "bye")),
		m(true, 0, 8, []byte{3}),
		m(true, 4, 1, []byte("rsv")),
		m(true, 0, 3, nil),
		m(true, 0, 1, []byte{0xed, 0xa0, 0x80}),
		frameBytes(true, 0, 1, []byte("unmasked"), false),
		{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
		m(true, 0, 2, payloadOf(20000)),
		m(true, 4, 2, newRawDeflater(false).compress(payloadOf(1000))),
		m(true, 4, 2, []byte{0xff, 0xff, 0xff}),
	}
	for _, u := range utf8Cases {
		seeds = append(seeds, m(true, 0, 1, u.b))
	}
	for i, s := range seeds {
		f.Add(s, uint16(i%7+1), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, input []byte, chunk uint16, compress bool) {
		cfg := Config{MaxMessageSize: 64 << 10, Compression: compress}
		wholeRec, wholeOut := drive(t, cfg, input, 0)
		pieceRec, pieceOut := drive(t, cfg, input, int(chunk%4096)+1)
		if fmt.Sprint(wholeRec.log) != fmt.Sprint(pieceRec.log) {
			t.Fatalf("messages differ:\nwhole:  %v\npieces: %v", wholeRec.log, pieceRec.log)
		}
		if wholeRec.close.Code != pieceRec.close.Code {
			t.Fatalf("close differs: whole %v, pieces %v", wholeRec.close, pieceRec.close)
		}
		if !bytes.Equal(wholeOut, pieceOut) {
			t.Fatalf("output differs:\nwhole:  %x\npieces: %x", wholeOut, pieceOut)
		}
		// Everything written is a sequence of valid server frames.
		for b := wholeOut; len(b) > 0; {
			h, res := parseFrameHeader(b)
			if res != parseOK || h.masked || h.rsv != 0 || int64(len(b)) < int64(h.hlen)+h.length {
				t.Fatalf("invalid output frame %x", b)
			}
			b = b[int64(h.hlen)+h.length:]
		}
	})
}
