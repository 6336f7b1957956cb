package httpd

import (
	"context"
	"errors"
	"net"
	"time"

	"wharf/engine"
	"wharf/httpd/internal/h1"
)

// phase is where a connection is in its request cycle. Owned by the loop.
type phase uint8

const (
	phaseIdle     phase = iota // between requests, nothing buffered
	phaseHead                  // part of a request head has arrived
	phaseBody                  // head done, reading the body
	phaseBusy                  // a handler goroutine is serving the request
	phaseHijacked              // the handler took the connection
)

// hconn is one HTTP connection. Fields are owned by the event loop, except
// where noted.
type hconn struct {
	s  *Server
	ec engine.Conn

	phase   phase
	req     h1.Request
	headBuf []byte // a copy of the head while its body arrives (req points into it)
	body    []byte // the body read so far
	remain  int64  // Content-Length bytes still to read
	chunked h1.ChunkedDecoder
	started time.Time // when the current request began arriving

	cur    *job // the request a handler is serving (phaseBusy)
	hj     *hijackConn
	closed bool

	remote string   // RemoteAddr().String(), computed on first use
	local  net.Addr // LocalAddr(), computed on first use
}

// idle reports whether the connection waits for a request with nothing
// buffered: Shutdown may close it at once.
func (c *hconn) idle() bool { return c.phase == phaseIdle && c.ec.InboundBuffered() == 0 }

// connHandler feeds the engine's callbacks to hconns.
type connHandler struct{ s *Server }

func (h *connHandler) OnOpen(ec engine.Conn) {
	c := &hconn{s: h.s, ec: ec}
	ec.SetContext(c)
	// The first request must arrive within ReadHeaderTimeout.
	ec.SetDeadline(time.Now().Add(h.s.cfg.ReadHeaderTimeout))
}

func (h *connHandler) OnClose(ec engine.Conn, err error) {
	c, ok := ec.Context().(*hconn)
	if !ok {
		return
	}
	c.closed = true
	if errors.Is(err, engine.ErrDeadlineExceeded) {
		h.s.ctr.timeouts.Add(1)
	}
	if c.cur != nil {
		c.cur.gone() // cancels the request's context: the client went away
	}
	if c.hj != nil {
		c.hj.peerClosed()
	}
}

// errClose asks the engine to close the connection once the error response
// queued before it is written.
var errClose = errors.New("httpd: close after response")

func (h *connHandler) OnData(ec engine.Conn) error {
	c := ec.Context().(*hconn)
	for {
		switch c.phase {
		case phaseBusy:
			return nil // pipelined bytes wait until the response is done
		case phaseHijacked:
			c.hj.feed(ec)
			return nil
		case phaseIdle, phaseHead:
			if ec.InboundBuffered() == 0 {
				if c.phase == phaseIdle {
					// Between requests: one idle deadline per batch of
					// pipelined requests, not one per request.
					ec.SetDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
				}
				return nil
			}
			if !c.readHead() {
				return c.stopErr()
			}
		case phaseBody:
			if !c.readBody() {
				return c.stopErr()
			}
		}
	}
}

// stopErr is what OnData returns when it cannot go on: errClose after an
// error response, nil when it merely waits for more bytes.
func (c *hconn) stopErr() error {
	if c.closed {
		return errClose
	}
	return nil
}

// readHead parses a request head from the buffer. It reports false when it
// must wait for more bytes (c.closed false) or has answered an error and
// must close (c.closed true).
func (c *hconn) readHead() bool {
	s := c.s
	buf, _ := c.ec.Peek(-1)
	n, err := h1.ParseRequest(buf, &c.req, s.limits)
	if err == h1.ErrIncomplete {
		if c.phase == phaseIdle {
			c.phase = phaseHead
			c.started = time.Now()
			c.ec.SetDeadline(c.started.Add(s.cfg.ReadHeaderTimeout))
		}
		return false
	}
	if err != nil {
		var he *h1.Error
		if !errors.As(err, &he) {
			he = &h1.Error{Status: 400, Reason: err.Error()}
		}
		c.fail(he.Status, he.Reason)
		return false
	}
	if c.phase == phaseIdle {
		c.started = time.Now()
	}
	s.active.Add(1)
	// Body framing.
	c.remain = 0
	switch {
	case c.req.Chunked:
		c.chunked.Reset()
	case c.req.ContentLength > s.cfg.MaxBodyBytes:
		s.active.Add(-1)
		c.fail(413, "request body too large")
		return false
	case c.req.ContentLength > 0:
		c.remain = c.req.ContentLength
	}
	hasBody := c.req.Chunked || c.remain > 0
	if !hasBody {
		c.body = c.body[:0]
		c.dispatch(buf[:n], n)
		return true
	}
	// Fast path: the whole Content-Length body is already here.
	if !c.req.Chunked && int64(len(buf)-n) >= c.remain {
		end := n + int(c.remain)
		c.body = append(c.body[:0], buf[n:end]...)
		c.remain = 0
		c.dispatch(buf[:n], end)
		return true
	}
	// The body is still arriving: keep a copy of the head (req points into
	// it), consume the head, and read the body as it comes.
	c.headBuf = append(c.headBuf[:0], buf[:n]...)
	if _, err := h1.ParseRequest(c.headBuf, &c.req, s.limits); err != nil {
		s.active.Add(-1)
		c.fail(500, "reparse failed")
		return false
	}
	c.ec.Discard(n)
	c.body = c.body[:0]
	c.phase = phaseBody
	c.ec.SetDeadline(c.started.Add(s.cfg.ReadTimeout))
	if c.req.ExpectContinue {
		c.ec.Write(continueLine)
	}
	return true
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// readBody moves body bytes from the buffer into c.body; when the body is
// complete it dispatches the request.
func (c *hconn) readBody() bool {
	s := c.s
	buf, _ := c.ec.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	if !c.req.Chunked {
		take := min(int64(len(buf)), c.remain)
		c.body = append(c.body, buf[:take]...)
		c.ec.Discard(int(take))
		c.remain -= take
		if c.remain > 0 {
			return false
		}
		c.dispatch(c.headBuf, 0)
		return true
	}
	for {
		data, used, done, err := c.chunked.Next(buf)
		if err == h1.ErrIncomplete {
			c.ec.Discard(used) // chunk lines already decoded
			return false
		}
		if err != nil {
			var he *h1.Error
			if !errors.As(err, &he) {
				he = &h1.Error{Status: 400, Reason: err.Error()}
			}
			s.active.Add(-1)
			c.fail(he.Status, he.Reason)
			return false
		}
		if int64(len(c.body)+len(data)) > s.cfg.MaxBodyBytes {
			s.active.Add(-1)
			c.fail(413, "request body too large")
			return false
		}
		c.body = append(c.body, data...)
		buf = buf[used:]
		c.ec.Discard(used)
		if done {
			c.dispatch(c.headBuf, 0)
			return true
		}
		if used == 0 || len(buf) == 0 {
			return false
		}
	}
}

// dispatch serves a complete request: on the loop for a native handler, on
// the pool otherwise. head is the request head (req points into it);
// consume is how many buffered bytes the request occupies (0 when head and
// body were already consumed).
func (c *hconn) dispatch(head []byte, consume int) {
	s := c.s
	if s.cfg.Native != nil {
		c.serveNative(consume)
		return
	}
	j, err := c.newJob()
	if consume > 0 {
		c.ec.Discard(consume)
	}
	if err != nil {
		s.active.Add(-1)
		c.fail(400, err.Error())
		return
	}
	c.phase = phaseBusy
	c.cur = j
	c.ec.SetDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if !s.submit(j) {
		// Every handler goroutine is busy and the queue is full.
		c.cur = nil
		j.cancel()
		c.phase = phaseIdle
		s.active.Add(-1)
		s.ctr.count(503)
		c.ec.Write(s.errorResponse(503, "server busy, retry later", false))
		c.afterResponse(false)
	}
}

// fail answers a malformed request with an error status and closes.
func (c *hconn) fail(status int, reason string) {
	c.s.ctr.count(status)
	c.s.ctr.rejected.Add(1)
	c.ec.Write(c.s.errorResponse(status, reason, true))
	c.closed = true
	c.phase = phaseIdle
}

// afterResponse prepares for the next request (or closes). Runs on the loop.
func (c *hconn) afterResponse(closeConn bool) {
	c.phase = phaseIdle
	c.cur = nil
	if closeConn || c.s.stopping.Load() {
		c.ec.Close()
		c.closed = true
	}
}

// resume runs on the loop after a handler goroutine answered: it serves the
// pipelined requests already buffered.
func (c *hconn) resume(closeConn bool) {
	if c.closed || c.phase != phaseBusy {
		return
	}
	c.afterResponse(closeConn)
	if c.closed {
		return
	}
	if err := (&connHandler{s: c.s}).OnData(c.ec); err != nil {
		c.ec.Close()
	}
}

// errorResponse is a complete error response.
func (s *Server) errorResponse(status int, reason string, closeConn bool) []byte {
	if closeConn {
		return h1.AppendError(nil, status, reason)
	}
	b := h1.AppendStatusLine(nil, 1, status)
	b = append(b, *s.date.Load()...)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	msg := reason + "\n"
	b = appendInt(b, int64(len(msg)))
	b = append(b, "\r\nRetry-After: 1\r\n\r\n"...)
	return append(b, msg...)
}

func appendInt(b []byte, v int64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for v > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}

// requestContext returns the context for a request on this connection.
func (c *hconn) requestContext() (context.Context, context.CancelFunc) {
	return context.WithCancel(c.s.base)
}
