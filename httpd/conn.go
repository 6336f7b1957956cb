package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/httpd/internal/h1"
	"wharf/iplimit"
)

// phase is where a connection is in its request cycle. Owned by the loop.
type phase uint8

const (
	phaseIdle     phase = iota // between requests, nothing buffered
	phaseHead                  // part of a request head has arrived
	phaseBody                  // head done, reading the body
	phaseHijacked              // the handler took the connection
	phaseDrain                 // no more requests: inbound bytes are discarded until the connection closes
)

// maxPipeline is how many pipelined requests of one connection are served
// at once (their responses still go out in order).
const maxPipeline = 16

// hconn is one HTTP connection. Fields are owned by the event loop, except
// where noted.
type hconn struct {
	s  *Server
	ec engine.Conn

	phase     phase
	req       h1.Request
	headBuf   []byte    // native: a copy of the head while its body arrives (req points into it)
	bodyBuf   []byte    // native: the body read so far
	bodyBox   *[]byte   // native: a spare box to return bodyBuf to its pool in
	bodyRead  int64     // adapter: decoded body bytes of the chunked body being streamed (MaxBodyBytes)
	discarded int64     // adapter: bytes of an abandoned body discarded so far (maxDiscard)
	body      []byte    // native: the complete body of the request being dispatched
	pipe      *bodyPipe // adapter: the body being streamed to its handler, nil when none
	remain    int64     // Content-Length bytes still to read
	chunked   h1.ChunkedDecoder
	started   time.Time // when the current request began arriving
	readDL    time.Time // the deadline of the body being streamed (zero: none)
	writeDL   time.Time // the deadline of the oldest response in flight (zero: none, or its handler's own)

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

	lingering bool   // closing: input is dropped until the client closes or lingerTimeout (shut)
	lastWords []byte // an error response to write, then close, once the responses in flight are out

	src    iplimit.Key // the source's key, when it holds a slot of Server.perIP
	srcSet bool

	remote string               // RemoteAddr().String(), computed on first use
	tlsSt  *tls.ConnectionState // Request.TLS, computed on first use (HTTPS only)
	tlsSet bool                 // tlsSt was computed
	host   string               // the Host of the last request (shared by the next ones)
	target string               // the target of the last request (likewise)
	base   context.Context      // request contexts derive from it (carries LocalAddr), made on first use

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
	if h.s.perIP != nil {
		if k, ok := iplimit.KeyOfNetAddr(ec.RemoteAddr()); ok {
			if !h.s.perIP.Acquire(k) {
				h.s.ctr.perIP.Add(1)
				ec.Write(tooManyFromIP)
				c.phase, c.closed = phaseDrain, true
				ec.Close()
				return
			}
			c.src, c.srcSet = k, true
		}
	}
	// The first request must arrive within ReadHeaderTimeout.
	ec.SetDeadline(h.s.now().Add(h.s.cfg.ReadHeaderTimeout))
}

func (h *connHandler) OnClose(ec engine.Conn, err error) {
	c, ok := ec.Context().(*hconn)
	if !ok {
		upgradedClose(ec, err)
		return
	}
	c.closed = true
	if c.srcSet {
		h.s.perIP.Release(c.src)
		c.srcSet = false
	}
	if errors.Is(err, engine.ErrDeadlineExceeded) && !c.lingering {
		h.s.ctr.timeouts.Add(1)
	}
	for _, j := range c.jobs {
		j.gone() // cancels the request's context: the client went away
	}
	if c.pipe != nil {
		c.pipe.fail(0, io.ErrUnexpectedEOF) // the body will not come
		c.pipe = nil
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
	if c.phase == phaseDrain {
		ec.Discard(-1) // what follows a rejected request is not read
		return nil
	}
	for {
		if c.phase != phaseHijacked && c.phase != phaseBody && (c.blocked || c.closing ||
			c.inflight >= maxPipeline || c.inflight > 0 && c.burst <= 0) {
			// Wait until the requests in flight are answered. Only a burst
			// (requests that arrived together) is served concurrently:
			// bytes arriving later may belong to a handler that hijacks.
			// The body of a request in flight still streams.
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
				ec.SetDeadline(c.s.now().Add(c.s.cfg.IdleTimeout))
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
// must close (c.closed true, or c.closing with the error queued).
func (c *hconn) readHead() bool {
	s := c.s
	buf, _ := c.ec.Peek(-1)
	n, err := h1.ParseRequest(buf, &c.req, s.limits)
	if err == h1.ErrIncomplete {
		if c.phase == phaseIdle {
			c.phase = phaseHead
			c.started = c.s.now()
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
		c.started = c.s.now()
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
	switch {
	case !c.req.Chunked && c.remain == 0:
		c.body = nil
		c.dispatch(n, false)
		return true
	case s.cfg.Native == nil:
		return c.startBody(buf, n) // streamed to the handler (body.go)
	}
	// The native handler runs on the loop and cannot wait for its body:
	// the body is buffered whole (at most MaxBodyBytes) before it runs.
	if !c.req.Chunked && int64(len(buf)-n) >= c.remain {
		// All here: the handler reads it in place, no copy.
		end := n + int(c.remain)
		c.body = buf[n:end]
		c.remain = 0
		c.dispatch(end, false)
		c.body = nil
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
	c.bodyBuf = c.bodyBuf[:0]
	if !c.req.Chunked && c.remain > int64(cap(c.bodyBuf)) {
		var box *[]byte
		c.bodyBuf, box = getBodyBuf(c.remain)
		if box != nil {
			c.bodyBox = box
		}
	}
	c.phase = phaseBody
	c.ec.SetDeadline(c.started.Add(s.cfg.ReadTimeout))
	if c.req.ExpectContinue {
		c.ec.Write(continueLine) // native requests are served one at a time: nothing to overtake
	}
	return true
}

// tooManyFromIP answers, before any request, a connection over
// Config.MaxConnsPerIP.
var tooManyFromIP = h1.AppendError(nil, 503, "too many connections from your address")

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// Buffers a connection keeps between requests; larger ones are dropped
// once their request is dispatched, so that a connection that once
// received a big request does not hold the memory while idle.
const (
	keepHeadBuf = 4 << 10
	keepBodyBuf = 16 << 10
)

// releaseBuffers gives back the request buffers that grew large: to the
// pool if they are of a pooled size, else to the collector.
func (c *hconn) releaseBuffers() {
	if cap(c.headBuf) > keepHeadBuf {
		c.headBuf = nil
	}
	if cap(c.bodyBuf) > keepBodyBuf {
		c.bodyBox = putBodyBuf(c.bodyBuf, c.bodyBox)
		c.bodyBuf = nil
	}
	c.headBuf, c.bodyBuf = c.headBuf[:0], c.bodyBuf[:0]
}

// Native bodies that arrive over time are gathered in buffers of a few
// size classes (64 KiB to 1 MiB), pooled across connections: a connection
// holds one only while its request arrives.
const (
	minBodyClass = 64 << 10
	bodyClasses  = 5
)

var bodyBufPools [bodyClasses]sync.Pool

// getBodyBuf returns an empty buffer for a body of n bytes, and the box
// it came in from the pool (nil if new); putBodyBuf boxes it in box (or
// a new box) for the pool and returns a spare box if any, so that
// boxes are reused too and the round trip allocates nothing.
func getBodyBuf(n int64) ([]byte, *[]byte) {
	for i := range bodyClasses {
		if size := int64(minBodyClass) << i; n <= size {
			if p, ok := bodyBufPools[i].Get().(*[]byte); ok {
				b := (*p)[:0]
				*p = nil
				return b, p
			}
			return make([]byte, 0, size), nil
		}
	}
	return make([]byte, 0, n), nil
}

func putBodyBuf(b []byte, box *[]byte) (spare *[]byte) {
	for i := range bodyClasses {
		if cap(b) == minBodyClass<<i {
			if box == nil {
				box = new([]byte)
			}
			*box = b[:0]
			bodyBufPools[i].Put(box)
			return nil
		}
	}
	return box
}

// readBody moves body bytes along: to the handler's stream for the
// adapter (pumpBody), into bodyBuf for a native handler, which is
// dispatched once the body is complete.
func (c *hconn) readBody() bool {
	if c.s.cfg.Native == nil {
		return c.pumpBody()
	}
	s := c.s
	buf, _ := c.ec.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	if !c.req.Chunked {
		take := min(int64(len(buf)), c.remain)
		c.bodyBuf = append(c.bodyBuf, buf[:take]...)
		c.ec.Discard(int(take))
		c.remain -= take
		if c.remain > 0 {
			return false
		}
		c.dispatchBuffered()
		return true
	}
	for {
		data, used, done, err := c.chunked.Next(buf)
		if err == h1.ErrIncomplete {
			c.ec.Discard(used) // chunk lines already decoded
			return false
		}
		if err != nil {
			s.active.Add(-1)
			c.failChunked(err)
			return false
		}
		if int64(len(c.bodyBuf)+len(data)) > s.cfg.MaxBodyBytes {
			s.active.Add(-1)
			c.fail(413, "request body too large")
			return false
		}
		c.bodyBuf = append(c.bodyBuf, data...)
		buf = buf[used:]
		c.ec.Discard(used)
		if done {
			c.dispatchBuffered()
			return true
		}
		if used == 0 || len(buf) == 0 {
			return false
		}
	}
}

// dispatchBuffered serves a native request whose body arrived over time.
func (c *hconn) dispatchBuffered() {
	c.body = c.bodyBuf
	c.dispatch(0, false)
	c.body = nil
	c.releaseBuffers()
}

// failChunked answers a chunked-coding error.
func (c *hconn) failChunked(err error) {
	var he *h1.Error
	if !errors.As(err, &he) {
		he = &h1.Error{Status: 400, Reason: err.Error()}
	}
	c.fail(he.Status, he.Reason)
}

// dispatch serves a request whose head has been parsed: on the loop for a
// native handler (with its complete body in c.body), on the pool
// otherwise (with its body, if any, streamed through c.pipe). consume is
// how many buffered bytes the request occupies (0 when they were already
// consumed); streaming says the body is still to be read, which the loop
// does after dispatch (phaseBody). Pipelined requests run concurrently, up
// to maxPipeline; their responses are written in order (responseOrder).
func (c *hconn) dispatch(consume int, streaming bool) {
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
	if rest := c.ec.InboundBuffered(); streaming {
		c.burst = 0 // a body read over time ends the burst
	} else if c.inflight == 0 {
		c.burst = rest
	} else {
		c.burst = min(c.burst-consume, rest)
	}
	if !s.submit(j) {
		// Every handler goroutine is busy and the queue is full.
		j.cancel()
		c.blocked, c.closing = false, c.closing && !j.close
		s.active.Add(-1)
		s.ctr.count(503)
		c.pipe = nil
		// An unread body cannot be skipped reliably: close after a 503.
		closeConn := j.close || streaming
		if c.inflight == 0 {
			c.ec.Write(s.errorResponse(503, "server busy, retry later", closeConn))
			if closeConn {
				c.phase = phaseDrain
				c.shut()
			}
			return
		}
		// Answering now would overtake the responses in flight: answer
		// after them, then close.
		c.lastWords = s.errorResponse(503, "server busy, retry later", true)
		c.closing = true
		c.phase = phaseDrain
		return
	}
	c.seq++
	c.dispatched.Add(1)
	if c.inflight == 0 {
		// The head was just parsed: c.started is recent enough, no need
		// to ask the clock again.
		c.writeDL = c.started.Add(s.cfg.WriteTimeout)
	}
	c.inflight++
	c.jobs = append(c.jobs, j)
	if streaming {
		c.phase = phaseBody
		c.readDL = c.started.Add(s.cfg.ReadTimeout)
	}
	c.armDeadline()
}

// armDeadline sets the connection's deadline from what it waits for: the
// body being streamed (readDL) and the oldest response in flight
// (writeDL), whichever ends first; a zero deadline is none.
func (c *hconn) armDeadline() {
	var dl time.Time
	if c.pipe != nil && !c.readDL.IsZero() {
		dl = c.readDL
	}
	if c.inflight > 0 && !c.writeDL.IsZero() && (dl.IsZero() || c.writeDL.Before(dl)) {
		dl = c.writeDL
	}
	c.ec.SetDeadline(dl)
}

// fail answers a malformed request with an error status and closes. With
// responses in flight the error waits for them (lastWords): it must not
// overtake them, and the connection reads nothing more meanwhile.
func (c *hconn) fail(status int, reason string) {
	c.s.ctr.count(status)
	c.s.ctr.rejected.Add(1)
	resp := c.s.errorResponse(status, reason, true)
	if c.inflight > 0 {
		c.lastWords = resp
		c.closing = true
		c.phase = phaseDrain
		return
	}
	c.ec.Write(resp)
	c.phase = phaseDrain
	c.shut()
}

// lingerTimeout bounds how long a connection closing with input left
// unread keeps reading and dropping it (see shut).
const lingerTimeout = 500 * time.Millisecond

// shut closes the connection once what is queued is written. When the
// client may still be sending (a body not read, bytes after a rejected
// request), the connection first lingers, discarding input, until the
// client closes or lingerTimeout passes: closing a socket with unread
// input resets it, and the reset can destroy the response before the
// client reads it (net/http lingers likewise).
func (c *hconn) shut() {
	if c.pipe != nil {
		c.pipe.fail(0, ErrConnClosed)
		c.pipe = nil
		c.phase = phaseDrain
	}
	if c.phase != phaseDrain && c.ec.InboundBuffered() == 0 {
		c.ec.Close()
		c.closed = true
		return
	}
	c.phase, c.closing, c.lingering = phaseDrain, true, true
	c.ec.Discard(-1)
	c.ec.SetDeadline(c.s.now().Add(lingerTimeout))
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
	if closeConn {
		// The response said Connection: close: nothing after it is
		// written (responseOrder dropped the later responses).
		c.shut()
		return
	}
	if c.s.stopping.Load() {
		c.closing = true
	}
	if c.closing {
		if c.inflight == 0 {
			if c.lastWords != nil {
				c.ec.Write(c.lastWords) // the error answered to a later request, in its turn
				c.lastWords = nil
			}
			c.shut()
		}
		return
	}
	if c.inflight > 0 {
		c.writeDL = time.Time{} // the next response's handler set its own (response.SetWriteDeadline)
		if !c.jobs[0].ownWriteDL.Load() {
			c.writeDL = c.s.now().Add(c.s.cfg.WriteTimeout)
		}
		c.armDeadline()
	} else if c.pipe != nil {
		c.armDeadline() // the body of the request just answered is still being read (or discarded)
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
