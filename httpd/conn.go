package httpd

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
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
	phaseHijacked              // the handler took the connection
)

// maxPipeline is how many pipelined requests of one connection are served
// at once (their responses still go out in order).
const maxPipeline = 16

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

	inflight int    // requests dispatched and not answered yet
	burst    int    // buffered bytes that arrived with the requests in flight (a pipelined burst)
	seq      uint64 // sequence number of the next dispatched request
	jobs     []*job // in flight, oldest first (cancelled if the connection closes)
	blocked  bool   // a request that must be served alone is in flight
	closing  bool   // no more requests: close once the in-flight ones are answered
	stalled  bool   // step: wait for more bytes
	ord      responseOrder
	hj       *hijackConn
	closed   bool

	remote string          // RemoteAddr().String(), computed on first use
	host   string          // the Host of the last request (shared by the next ones)
	base   context.Context // request contexts derive from it (carries LocalAddr), made on first use

	// Hijack and the loop's parsing of pipelined requests exclude each
	// other: the loop sets parsing before it checks hijacking, Hijack sets
	// hijacking before it checks parsing (and then the count of dispatched
	// requests), so a hijacked connection never has later bytes parsed as
	// requests, and a hijack never races a pipelined request.
	parsing    atomic.Bool
	hijacking  atomic.Bool
	dispatched atomic.Uint64 // requests dispatched so far
}

// idle reports whether the connection waits for a request with nothing
// buffered: Shutdown may close it at once.
func (c *hconn) idle() bool {
	return c.phase == phaseIdle && c.inflight == 0 && c.ec.InboundBuffered() == 0
}

// connHandler feeds the engine's callbacks to hconns.
type connHandler struct{ s *Server }

func (h *connHandler) OnOpen(ec engine.Conn) {
	c := &hconn{s: h.s, ec: ec}
	c.ord.cond.L = &c.ord.mu
	ec.SetContext(c)
	// The first request must arrive within ReadHeaderTimeout.
	ec.SetDeadline(time.Now().Add(h.s.cfg.ReadHeaderTimeout))
}

func (h *connHandler) OnClose(ec engine.Conn, err error) {
	c, ok := ec.Context().(*hconn)
	if !ok {
		upgradedClose(ec, err)
		return
	}
	c.closed = true
	if errors.Is(err, engine.ErrDeadlineExceeded) {
		h.s.ctr.timeouts.Add(1)
	}
	for _, j := range c.jobs {
		j.gone() // cancels the request's context: the client went away
	}
	c.ord.fail()
	if c.hj != nil {
		c.hj.peerClosed()
	}
}

// errClose asks the engine to close the connection once the error response
// queued before it is written.
var errClose = errors.New("httpd: close after response")

func (h *connHandler) OnData(ec engine.Conn) error {
	c, ok := ec.Context().(*hconn)
	if !ok {
		return upgradedData(ec)
	}
	for {
		if c.phase != phaseHijacked && (c.blocked || c.closing || c.inflight >= maxPipeline ||
			c.inflight > 0 && c.burst <= 0 && c.phase != phaseBody) {
			// Wait until the requests in flight are answered. Only a burst
			// (requests that arrived together) is served concurrently:
			// bytes arriving later may belong to a handler that hijacks.
			return nil
		}
		var err error
		if c.inflight > 0 && c.phase != phaseHijacked {
			c.parsing.Store(true)
			if c.hijacking.Load() {
				c.parsing.Store(false)
				return nil
			}
			err = c.step(ec)
			c.parsing.Store(false)
		} else {
			err = c.step(ec)
		}
		if err != nil || c.stalled {
			c.stalled = false
			return err
		}
	}
}

// step makes one step of the request cycle; it sets stalled when it must
// wait for more bytes (or stop).
func (c *hconn) step(ec engine.Conn) error {
	switch c.phase {
	case phaseHijacked:
		c.hj.feed(ec)
		c.stalled = true
	case phaseIdle, phaseHead:
		if ec.InboundBuffered() == 0 {
			if c.phase == phaseIdle && c.inflight == 0 {
				// Between requests: one idle deadline per batch of
				// pipelined requests, not one per request.
				ec.SetDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
			}
			c.stalled = true
			return nil
		}
		if !c.readHead() {
			c.stalled = true
			return c.stopErr()
		}
	case phaseBody:
		if !c.readBody() {
			c.stalled = true
			return c.stopErr()
		}
	}
	return nil
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
	if c.phase == phaseIdle || c.phase == phaseHead {
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
// body were already consumed). Pipelined requests run concurrently, up to
// maxPipeline; their responses are written in order (responseOrder).
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
	c.phase = phaseIdle
	if err != nil {
		s.active.Add(-1)
		c.fail(400, err.Error())
		return
	}
	j.seq = c.seq
	if j.alone = j.req.Method == "CONNECT" || c.req.Upgrade; j.alone {
		c.blocked = true // it may hijack the connection: nothing after it runs
	}
	if j.close {
		c.closing = true // the client closes after this one: read no more
	}
	// The burst: bytes already buffered behind this request may be served
	// concurrently with it; bytes arriving later wait.
	if rest := c.ec.InboundBuffered(); c.inflight == 0 {
		c.burst = rest
	} else if consume == 0 {
		c.burst = 0 // a body read over time ends the burst
	} else {
		c.burst = min(c.burst-consume, rest)
	}
	if !s.submit(j) {
		// Every handler goroutine is busy and the queue is full.
		j.cancel()
		c.blocked, c.closing = false, c.closing && !j.close
		s.active.Add(-1)
		s.ctr.count(503)
		if c.inflight == 0 {
			c.ec.Write(s.errorResponse(503, "server busy, retry later", j.close))
			if j.close {
				c.ec.Close()
				c.closed = true
			}
			return
		}
		// Answering now would overtake the responses in flight: close
		// after them instead.
		c.closing = true
		return
	}
	c.seq++
	c.dispatched.Add(1)
	if c.inflight == 0 {
		now := c.started // the head was just parsed: no need to ask the clock again
		if consume == 0 {
			now = time.Now() // the body arrived over time
		}
		c.ec.SetDeadline(now.Add(s.cfg.WriteTimeout))
	}
	c.inflight++
	c.jobs = append(c.jobs, j)
}

// fail answers a malformed request with an error status and closes.
func (c *hconn) fail(status int, reason string) {
	c.s.ctr.count(status)
	c.s.ctr.rejected.Add(1)
	c.ec.Write(c.s.errorResponse(status, reason, true))
	c.closed = true
	c.phase = phaseIdle
}

// answered runs on the loop when the response to the oldest request in
// flight has been handed to the socket: it frees a pipeline slot and serves
// what is buffered. closeConn closes the connection once nothing is in
// flight.
func (c *hconn) answered(closeConn bool) {
	if c.closed || c.phase == phaseHijacked || c.inflight == 0 {
		return
	}
	c.inflight--
	j := c.jobs[0]
	copy(c.jobs, c.jobs[1:])
	c.jobs[len(c.jobs)-1] = nil
	c.jobs = c.jobs[:len(c.jobs)-1]
	if j.alone {
		c.blocked = false
	}
	if closeConn || c.s.stopping.Load() {
		c.closing = true
	}
	if c.closing {
		if c.inflight == 0 {
			c.ec.Close()
			c.closed = true
		}
		return
	}
	if c.inflight > 0 {
		c.ec.SetDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
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
	if c.base == nil {
		// Per connection, as net/http does: the local address is the
		// same for every request on it.
		c.base = context.WithValue(c.s.base, http.LocalAddrContextKey, c.ec.LocalAddr())
	}
	return context.WithCancel(c.base)
}
