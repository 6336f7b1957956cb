package httpd

import (
	"io"
	"net"
	"os"
	"sync"
	"time"

	"wharf/engine"
)

type engineConn = engine.Conn

// startHijack hands the connection to hc (on the loop): HTTP processing
// stops, buffered and future bytes go to hc.
func (c *hconn) startHijack(hc *hijackConn) {
	if c.closed {
		hc.peerClosed()
		return
	}
	if c.pipe != nil {
		// Unread body bytes belong to the hijacker now, as net/http's
		// buffered reader would hold them.
		c.pipe.fail(0, ErrHijacked)
		c.pipe = nil
	}
	c.phase = phaseHijacked
	c.hj = hc
	c.ec.SetDeadline(time.Time{}) // the handler owns timeouts now
	hc.feed(c.ec)
}

// hijackFeedMax bounds the bytes a hijacked connection buffers for a reader
// that does not keep up; beyond it they wait in the engine (whose
// MaxInbound then protects the server).
const hijackFeedMax = 1 << 20

// hijackConn is the net.Conn a handler gets from Hijack: blocking reads
// over bytes the loop hands over, writes through AsyncWrite, deadlines.
// Safe for concurrent use, like any net.Conn.
type hijackConn struct {
	c  *hconn
	ec engine.Conn

	mu      sync.Mutex // guards the fields below
	in      []byte     // received, not yet read
	starved bool       // the loop stopped feeding at hijackFeedMax
	eof     bool       // the peer closed
	closed  bool       // Close was called
	rdl     time.Time  // read deadline
	wdl     time.Time  // write deadline
	rwake   chan struct{}
	wwake   chan struct{}
}

var _ net.Conn = (*hijackConn)(nil)

func newHijackConn(c *hconn) *hijackConn {
	return &hijackConn{c: c, ec: c.ec, rwake: make(chan struct{}, 1), wwake: make(chan struct{}, 1)}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// feed moves buffered inbound bytes to the reader (on the loop).
func (h *hijackConn) feed(ec engine.Conn) {
	h.mu.Lock()
	room := hijackFeedMax - len(h.in)
	if room <= 0 {
		h.starved = true
		h.mu.Unlock()
		return
	}
	p, _ := ec.Next(min(room, ec.InboundBuffered()))
	h.in = append(h.in, p...)
	h.starved = ec.InboundBuffered() > 0
	h.mu.Unlock()
	wake(h.rwake)
}

// peerClosed marks end of stream (the connection closed).
func (h *hijackConn) peerClosed() {
	h.mu.Lock()
	h.eof = true
	h.mu.Unlock()
	wake(h.rwake)
	wake(h.wwake)
}

func (h *hijackConn) Read(p []byte) (int, error) {
	for {
		h.mu.Lock()
		switch {
		case h.closed:
			h.mu.Unlock()
			return 0, h.opError("read", net.ErrClosed)
		case len(h.in) > 0:
			n := copy(p, h.in)
			h.in = h.in[n:]
			if len(h.in) == 0 {
				h.in = nil
			}
			refeed := h.starved && len(h.in) < hijackFeedMax/2
			if refeed {
				h.starved = false
			}
			h.mu.Unlock()
			if refeed {
				h.ec.Run(h.feed)
			}
			return n, nil
		case len(p) == 0:
			h.mu.Unlock()
			return 0, nil
		case h.eof:
			h.mu.Unlock()
			return 0, io.EOF
		}
		dl := h.rdl
		h.mu.Unlock()
		if err := h.waitDeadline(h.rwake, dl); err != nil {
			return 0, h.opError("read", err)
		}
	}
}

// waitDeadline waits for a wake-up or the deadline.
func (h *hijackConn) waitDeadline(ch chan struct{}, dl time.Time) error {
	return waitWake(ch, dl, h.c.s.now())
}

// waitWake waits for a wake-up on ch, or until dl (zero: no deadline) by
// the server's clock, whose reading is now.
func waitWake(ch chan struct{}, dl, now time.Time) error {
	if dl.IsZero() {
		<-ch
		return nil
	}
	d := dl.Sub(now)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

func (h *hijackConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	closed, eof, dl := h.closed, h.eof, h.wdl
	h.mu.Unlock()
	switch {
	case closed:
		return 0, h.opError("write", net.ErrClosed)
	case eof:
		return 0, h.opError("write", ErrConnClosed)
	case !dl.IsZero() && !h.c.s.now().Before(dl):
		return 0, h.opError("write", os.ErrDeadlineExceeded)
	case len(p) == 0:
		return 0, nil
	}
	done := make(chan error, 1)
	if err := h.ec.AsyncWrite(append([]byte(nil), p...), func(_ engine.Conn, err error) { done <- err }); err != nil {
		return 0, h.opError("write", ErrConnClosed)
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				return 0, h.opError("write", err)
			}
			return len(p), nil
		default:
		}
		h.mu.Lock()
		closed, dl = h.closed, h.wdl
		h.mu.Unlock()
		if closed {
			return 0, h.opError("write", net.ErrClosed)
		}
		// Wait for the write, a deadline change, or the deadline.
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := dl.Sub(h.c.s.now())
			if d <= 0 {
				return 0, h.opError("write", os.ErrDeadlineExceeded)
			}
			t := time.NewTimer(d)
			timeout = t.C
			defer t.Stop()
		}
		select {
		case err := <-done:
			if err != nil {
				return 0, h.opError("write", err)
			}
			return len(p), nil
		case <-h.wwake:
		case <-timeout:
			return 0, h.opError("write", os.ErrDeadlineExceeded)
		}
	}
}

func (h *hijackConn) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return h.opError("close", net.ErrClosed)
	}
	h.closed = true
	h.mu.Unlock()
	wake(h.rwake)
	wake(h.wwake)
	h.ec.Close()
	return nil
}

func (h *hijackConn) LocalAddr() net.Addr  { return h.ec.LocalAddr() }
func (h *hijackConn) RemoteAddr() net.Addr { return h.ec.RemoteAddr() }

func (h *hijackConn) SetDeadline(t time.Time) error {
	h.SetReadDeadline(t)
	return h.SetWriteDeadline(t)
}

func (h *hijackConn) SetReadDeadline(t time.Time) error {
	h.mu.Lock()
	h.rdl = t
	h.mu.Unlock()
	wake(h.rwake) // a waiting Read re-checks its deadline
	return nil
}

func (h *hijackConn) SetWriteDeadline(t time.Time) error {
	h.mu.Lock()
	h.wdl = t
	h.mu.Unlock()
	wake(h.wwake)
	return nil
}

func (h *hijackConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: h.ec.LocalAddr(), Addr: h.ec.RemoteAddr(), Err: err}
}
