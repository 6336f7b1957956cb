package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"wharf/buffer"
)

// frameCodec is a test protocol: each write is a frame of a 2-byte length
// and the bytes XORed with 0x5a; goodbye is an empty frame.
type frameCodec struct{}

var errBadFrame = errors.New("bad frame")

func (frameCodec) Decode(raw Conn, in *buffer.Buffer) error {
	for {
		hdr, err := raw.Peek(2)
		if err != nil {
			return nil // a partial header: wait
		}
		n := int(binary.BigEndian.Uint16(hdr))
		if n == 0 {
			return errBadFrame // only the server says goodbye in these tests
		}
		if raw.InboundBuffered() < 2+n {
			return nil
		}
		raw.Discard(2)
		p, _ := raw.Next(n)
		for _, b := range p {
			in.WriteByte(b ^ 0x5a)
		}
	}
}

func (frameCodec) Encode(w *Wire, p [][]byte) error {
	if len(p) == 0 {
		return nil // Flush: nothing produced outside Encode
	}
	var body []byte
	for _, b := range p {
		for _, x := range b {
			body = append(body, x^0x5a)
		}
	}
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(body)))
	w.Copy(hdr[:])
	w.Append(body) // body is ours and never reused
	return nil
}

func (frameCodec) Goodbye(w *Wire) error {
	w.Copy([]byte{0, 0})
	return nil
}

// layerHandler is a raw engine's Handler that layers frameCodec over every
// connection for inner.
type layerHandler struct{ inner Handler }

func (h layerHandler) OnOpen(c Conn) {
	if err := NewLayered(c, frameCodec{}, h.inner).Open(); err != nil {
		c.Close()
	}
}

func (h layerHandler) OnData(c Conn) error {
	l, _ := LayeredOf(c)
	return l.Input()
}

func (h layerHandler) OnClose(c Conn, err error) {
	l, _ := LayeredOf(c)
	l.Closed(err)
}

func xframe(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i]^0x5a)
	}
	return b
}

func readFrame(t *testing.T, c net.Conn) string {
	t.Helper()
	hdr := readFull(t, c, 2)
	n := int(binary.BigEndian.Uint16(hdr))
	if n == 0 {
		return ""
	}
	p := readFull(t, c, n)
	for i := range p {
		p[i] ^= 0x5a
	}
	return string(p)
}

func TestLayeredEcho(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		inner := newTH() // echoes with Write
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		// A frame split across writes, and two frames in one.
		f := xframe("hello")
		c.Write(f[:3])
		c.Write(f[3:])
		if got := readFrame(t, c); got != "hello" {
			t.Fatalf("echo %q, want hello", got)
		}
		c.Write(append(xframe("one"), xframe("two")...))
		var got string
		for len(got) < 6 {
			got += readFrame(t, c)
		}
		if got != "onetwo" {
			t.Fatalf("echo %q, want onetwo", got)
		}
	})
}

// TestLayeredWriteOrder: loop-side Writes and AsyncWrites from several
// goroutines go through the codec one at a time, each frame whole, and one
// goroutine's writes keep their order.
func TestLayeredWriteOrder(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		const writers, each = 4, 200
		inner := newTH()
		inner.data = func(c Conn) error {
			c.Discard(-1)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						msg := []byte(fmt.Sprintf("%d:%d;", w, i))
						if err := c.AsyncWrite(msg, nil); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			c.Write([]byte("loop;"))
			go func() { wg.Wait(); c.AsyncWrite([]byte("end;"), nil) }()
			return nil
		}
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		c.Write(xframe("go"))
		next := make([]int, writers)
		seen := 0
		for {
			f := readFrame(t, c)
			if f == "end;" {
				break
			}
			if f == "loop;" {
				seen++
				continue
			}
			var w, i int
			if _, err := fmt.Sscanf(f, "%d:%d;", &w, &i); err != nil {
				t.Fatalf("frame %q is not one whole write: %v", f, err)
			}
			if i != next[w] {
				t.Fatalf("writer %d: got #%d, want #%d", w, i, next[w])
			}
			next[w]++
		}
		for w, n := range next {
			if n != each {
				t.Fatalf("writer %d: %d writes arrived, want %d", w, n, each)
			}
		}
		if seen != 1 {
			t.Fatalf("loop-side Write arrived %d times", seen)
		}
	})
}

// TestLayeredCloseAndErrors: Close sends the goodbye after the queued
// writes, then the raw connection closes; a Decode error closes with it and
// reaches the inner OnClose; done callbacks see the Layered conn.
func TestLayeredCloseAndErrors(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		inner := newTH()
		doneConn := make(chan Conn, 1)
		inner.data = func(c Conn) error {
			p, _ := c.Next(-1)
			if string(p) == "bye" {
				c.AsyncWrite([]byte("later"), func(dc Conn, err error) { doneConn <- dc })
				c.Close()
			}
			return nil
		}
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		c.Write(xframe("bye"))
		if got := readFrame(t, c); got != "later" {
			t.Fatalf("read %q, want the write queued before Close", got)
		}
		if got := readFrame(t, c); got != "" {
			t.Fatalf("read %q, want the goodbye frame", got)
		}
		expectEOF(t, c)
		if ev := inner.waitClose(t); ev.err != nil {
			t.Fatalf("inner OnClose err = %v, want nil after Close", ev.err)
		}
		if dc := <-doneConn; func() bool { _, ok := dc.(*Layered); return !ok }() {
			t.Fatalf("done got %T, want the *Layered conn", dc)
		}

		c2 := dial(t, addr)
		c2.Write([]byte{0, 0}) // a frame this codec refuses
		if ev := inner.waitClose(t); ev.err != errBadFrame {
			t.Fatalf("inner OnClose err = %v, want the Decode error", ev.err)
		}
		expectEOF(t, c2)
	})
}

// TestLayeredLargeWrite: a write far above a read chunk arrives whole.
func TestLayeredLargeWrite(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		big := bytes.Repeat([]byte("0123456789"), 6000)
		inner := newTH()
		inner.data = func(c Conn) error {
			c.Discard(-1)
			_, err := c.Write(big)
			return err
		}
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		c.Write(xframe("x"))
		if got := readFrame(t, c); got != string(big) {
			t.Fatalf("got %d bytes, want %d", len(got), len(big))
		}
		var zero [1]byte
		c.SetReadDeadline(timeNowPlus(50))
		if _, err := c.Read(zero[:]); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("extra bytes or EOF after the frame: %v", err)
		}
	})
}

func timeNowPlus(ms int) time.Time { return time.Now().Add(time.Duration(ms) * time.Millisecond) }

// TestLayeredDecodeErrorAfterData: bytes decoded before a Decode error
// reach the Handler, and what it writes in answer reaches the peer before
// the connection closes with the Decode error.
func TestLayeredDecodeErrorAfterData(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		inner := newTH() // echoes with Write
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		c.Write(append(xframe("served"), 0, 0)) // a frame, then one Decode refuses
		if got := readFrame(t, c); got != "served" {
			t.Fatalf("echo %q, want the frame before the bad one", got)
		}
		expectEOF(t, c)
		if ev := inner.waitClose(t); ev.err != errBadFrame {
			t.Fatalf("inner OnClose err = %v, want the Decode error", ev.err)
		}
	})
}

// TestLayeredWriteThenError: an inner OnData that writes an answer and
// returns an error (httpd's error responses) gets its answer out before
// the close.
func TestLayeredWriteThenError(t *testing.T) {
	errDone := errors.New("done")
	forEachKind(t, func(t *testing.T, k Kind) {
		inner := newTH()
		inner.data = func(c Conn) error {
			c.Discard(-1)
			c.Write([]byte("400 go away"))
			return errDone
		}
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		c.Write(xframe("x"))
		if got := readFrame(t, c); got != "400 go away" {
			t.Fatalf("read %q, want the answer written before the error", got)
		}
		expectEOF(t, c)
		if ev := inner.waitClose(t); ev.err != errDone {
			t.Fatalf("inner OnClose err = %v, want the OnData error", ev.err)
		}
	})
}

// pongCodec answers a "ping" frame itself, from Decode, the way crypto/tls
// answers a KeyUpdate while it reads: the answer waits in pending until
// Flush has Encode take it, in order with the Handler's writes.
type pongCodec struct {
	frameCodec
	l       *Layered
	mu      sync.Mutex
	pending [][]byte
}

func (p *pongCodec) Decode(raw Conn, in *buffer.Buffer) error {
	if f, err := raw.Peek(6); err == nil && string(f) == string(xframe("ping")) {
		raw.Discard(6)
		p.mu.Lock()
		p.pending = append(p.pending, xframe("pong"))
		p.mu.Unlock()
		if err := p.l.Flush(); err != nil {
			return err
		}
	}
	return p.frameCodec.Decode(raw, in)
}

func (p *pongCodec) Encode(w *Wire, b [][]byte) error {
	p.mu.Lock()
	for _, f := range p.pending {
		w.Append(f) // never reused
	}
	p.pending = nil
	p.mu.Unlock()
	return p.frameCodec.Encode(w, b)
}

type pongHandler struct{ layerHandler }

func (h pongHandler) OnOpen(c Conn) {
	p := &pongCodec{}
	p.l = NewLayered(c, p, h.inner)
	if err := p.l.Open(); err != nil {
		c.Close()
	}
}

// TestLayeredFlush: bytes a codec produces outside Encode go out with
// Flush, between the writes queued before and after it.
func TestLayeredFlush(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		inner := newTH() // echoes with Write
		_, addr := start(t, Config{Kind: k}, pongHandler{layerHandler{inner}})
		c := dial(t, addr)
		c.Write(xframe("one"))
		if got := readFrame(t, c); got != "one" {
			t.Fatalf("echo %q, want one", got)
		}
		c.Write(append(xframe("ping"), xframe("two")...))
		if got := readFrame(t, c); got != "pong" {
			t.Fatalf("read %q, want the codec's pong first", got)
		}
		if got := readFrame(t, c); got != "two" {
			t.Fatalf("read %q, want the echo after the pong", got)
		}
	})
}

// TestLayeredWriteBatch: a batch goes through the codec as one write (one
// frame) and counts as n messages on the raw connection until written.
func TestLayeredWriteBatch(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		inner := newTH()
		inner.data = func(c Conn) error {
			c.Discard(-1)
			if err := c.AsyncWriteBatch([][]byte{[]byte("ab"), []byte("c")}, 3, nil); err != nil {
				t.Error(err)
			}
			return nil
		}
		_, addr := start(t, Config{Kind: k}, layerHandler{inner})
		c := dial(t, addr)
		c.Write(xframe("go"))
		if got := readFrame(t, c); got != "abc" {
			t.Fatalf("frame %q, want the whole batch in one", got)
		}
	})
	forEachKind(t, func(t *testing.T, k Kind) {
		layered := make(chan *Layered, 1)
		inner := newTH()
		inner.open = func(c Conn) { layered <- c.(*Layered) }
		_, addr := start(t, Config{Kind: k, SocketSendBuffer: 8192, MaxPendingPerConn: 20}, layerHandler{inner})
		dialSmall(t, addr) // never reads
		l := <-layered
		big := [][]byte{make([]byte, 1<<20)}
		for range 2 {
			if err := l.AsyncWriteBatch(big, 8, nil); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "16 pending on the raw connection", func() bool { return l.Raw().Pending() == 16 })
		if err := l.AsyncWriteBatch(big, 8, nil); err != ErrOutboundFull {
			t.Fatalf("a batch taking the raw connection to 24 of 20: err = %v, want ErrOutboundFull", err)
		}
	})
}
