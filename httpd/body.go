package httpd

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"wharf/httpd/internal/h1"
)

// Request bodies for the adapter are streamed: the request is dispatched
// as soon as its head is parsed, and the loop moves body bytes to the
// handler's Request.Body (a bodyPipe) as they arrive, never more than
// bodyWindow ahead of what the handler has read. When the window is full
// the loop stops consuming the connection's input and marks the pipe
// starved; the handler's Read, once it has made room, asks the loop (Run)
// to go on. The loop never waits for a handler.
//
// A handler that returns (or closes the body) before reading it all
// abandons it: the loop then discards the rest, up to maxDiscard bytes,
// so that the connection can serve the next request; beyond that the
// connection closes after the response.

const (
	// bodyWindow is the most body bytes held for a handler that has not
	// read them yet.
	bodyWindow = 64 << 10
	// pumpMin is the least room worth moving bytes into: a chunk-size
	// line (h1.DefaultMaxChunkLine) and a trailer section
	// (h1.DefaultMaxTrailerBytes) must fit, or a chunked body could not
	// progress.
	pumpMin = 16 << 10
	// smallBody is the size of the small pooled buffers, for bodies that
	// fit in them.
	smallBody = 4 << 10
	// maxDiscard is how much of an abandoned body the server reads and
	// drops to keep the connection (net/http reads 256 KiB too).
	maxDiscard = 256 << 10
)

var (
	smallBodyPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBody); return &b }}
	bigBodyPool   = sync.Pool{New: func() any { b := make([]byte, 0, bodyWindow); return &b }}
)

// bodyPipe is a request body on its way from the loop (the writer: put,
// finish, fail) to the handler goroutine (the reader: Read, Close). mu
// guards every field but c and wake.
type bodyPipe struct {
	c    *hconn
	wake chan struct{} // signalled when Read may progress

	mu           sync.Mutex
	buf          *[]byte   // pooled; received bytes are (*buf)[r:]; nil when empty and released
	r            int       // read offset into *buf
	left         int64     // Content-Length bytes not received yet; -1 for a chunked body
	done         bool      // the whole body was received
	err          error     // the body failed (sticky, after what was received is read)
	status       int       // with err: the status the server answers (400, 413), 0 if it was the connection
	abandoned    bool      // the handler closed it or returned: the loop discards the rest
	starved      bool      // the loop stopped moving bytes for want of room
	wantContinue bool      // Expect: 100-continue not answered yet
	w            *response // sends the 100 Continue, in response order
	deadline     time.Time // Read's deadline (SetReadDeadline), zero for none
}

// newBodyPipe makes the pipe for a body of cl bytes (-1: chunked).
func newBodyPipe(c *hconn, cl int64, expect bool) *bodyPipe {
	return &bodyPipe{c: c, wake: make(chan struct{}, 1), left: cl, wantContinue: expect}
}

// startBody dispatches a request with a body (on the loop). A
// Content-Length body that is all here and fits in the window goes with
// the request at once; otherwise the connection reads it as it arrives
// (phaseBody, pumpBody).
func (c *hconn) startBody(buf []byte, n int) bool {
	cl := c.remain
	if c.req.Chunked {
		cl = -1
	}
	p := newBodyPipe(c, cl, c.req.ExpectContinue)
	c.pipe = p
	c.bodyRead, c.discarded = 0, 0
	if !c.req.Chunked && int64(len(buf)-n) >= c.remain && c.remain <= bodyWindow {
		end := n + int(c.remain)
		p.wantContinue = false // the client sent the body without waiting
		p.put(buf[n:end], 0)
		p.finish()
		c.remain = 0
		c.dispatch(end, false)
		c.pipe = nil
		return !c.closed
	}
	c.dispatch(n, true)
	return c.phase == phaseBody
}

// pumpBody moves what has arrived of the body being streamed to its
// handler, or discards it if the handler abandoned it. It reports whether
// the body is complete (the next request may follow); false when it must
// wait for bytes or for the handler to read.
func (c *hconn) pumpBody() bool {
	p := c.pipe
	buf, _ := c.ec.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	room, abandoned := p.reserve()
	if abandoned {
		room = len(buf)
	} else if room < pumpMin {
		// Starved: Read resumes the loop. Meanwhile the engine keeps
		// reading into its buffer, up to Engine.MaxInbound, past which
		// it would drop the connection without a word.
		if c.req.Chunked && len(buf) > c.s.cfg.Engine.MaxInbound/2 {
			c.lookAhead(buf)
		}
		return false
	}
	if !c.req.Chunked {
		take := min(int64(len(buf)), c.remain, int64(room))
		if abandoned {
			c.discarded += take
		} else {
			p.put(buf[:take], c.remain-take)
		}
		c.ec.Discard(int(take))
		c.remain -= take
		if c.remain == 0 {
			c.endBody()
			return true
		}
		c.checkDiscard()
		return take == int64(room) && !c.closing // the window filled: look again (starved, or more room)
	}
	truncated := len(buf) > room
	in := buf[:min(len(buf), room)]
	for {
		data, used, done, err := c.chunked.Next(in)
		if err == h1.ErrIncomplete {
			c.ec.Discard(used) // chunk lines already decoded
			c.checkDiscard()
			if truncated && !abandoned {
				// The window cut the input, not the client: go on
				// with more room, or wait for the handler (starved).
				room, _ := p.reserve()
				return room >= pumpMin
			}
			return false
		}
		if err != nil {
			var he *h1.Error
			if !errors.As(err, &he) {
				he = &h1.Error{Status: 400, Reason: err.Error()}
			}
			c.bodyFailed(he.Status, err)
			return false
		}
		if abandoned {
			c.discarded += int64(len(data))
		} else {
			if c.bodyRead+int64(len(data)) > c.s.cfg.MaxBodyBytes {
				// Refused before a byte beyond the limit reaches the handler.
				c.bodyFailed(413, &http.MaxBytesError{Limit: c.s.cfg.MaxBodyBytes})
				return false
			}
			p.put(data, -1)
		}
		c.bodyRead += int64(len(data))
		in = in[used:]
		c.ec.Discard(used)
		if done {
			c.endBody()
			return true
		}
		if len(in) == 0 {
			c.checkDiscard()
			return false
		}
	}
}

// lookAhead decodes a copy of the chunked decoder over what is buffered
// without consuming it, to refuse a body that will exceed MaxBodyBytes
// (or is malformed) while the server can still answer: a handler that
// reads slowly leaves the bytes in the engine's buffer, which only a
// body within the limit is sure to fit (Config.Engine.MaxInbound).
func (c *hconn) lookAhead(buf []byte) {
	d := c.chunked
	total := c.bodyRead
	for len(buf) > 0 {
		data, used, done, err := d.Next(buf)
		if err == h1.ErrIncomplete || done {
			return
		}
		if err != nil {
			var he *h1.Error
			if !errors.As(err, &he) {
				he = &h1.Error{Status: 400, Reason: err.Error()}
			}
			c.bodyFailed(he.Status, err)
			return
		}
		if total += int64(len(data)); total > c.s.cfg.MaxBodyBytes {
			c.bodyFailed(413, &http.MaxBytesError{Limit: c.s.cfg.MaxBodyBytes})
			return
		}
		buf = buf[used:]
	}
}

// checkDiscard gives up on an abandoned body beyond maxDiscard: the
// connection closes once the responses in flight are out.
func (c *hconn) checkDiscard() {
	if c.discarded <= maxDiscard {
		return
	}
	c.pipe = nil
	c.phase = phaseDrain
	c.closing = true
	if c.inflight == 0 {
		c.shut()
	}
}

// endBody: the body being streamed is complete (on the loop).
func (c *hconn) endBody() {
	c.pipe.finish()
	c.pipe = nil
	c.phase = phaseIdle
	c.readDL = time.Time{}
	c.armDeadline()
}

// bodyFailed ends a body the client framed wrongly or made too large: the
// handler's Read fails, the server answers status (unless the response
// has started) and the connection closes after it; what follows is not
// read.
func (c *hconn) bodyFailed(status int, err error) {
	c.s.ctr.rejected.Add(1)
	c.pipe.fail(status, err)
	c.pipe = nil
	c.phase = phaseDrain
	c.closing = true
	c.ec.Discard(-1)
	if c.inflight == 0 {
		c.shut()
	}
}

// resumeBody runs on the loop when a starved body's handler made room, or
// abandoned it.
func (c *hconn) resumeBody(p *bodyPipe) {
	if c.closed || c.pipe != p {
		return
	}
	if err := (&connHandler{s: c.s}).OnData(c.ec); err != nil {
		c.ec.Close()
	}
}

// Loop side.

// reserve reports the room for more bytes, and whether the handler
// abandoned the body; with too little room it marks the pipe starved, so
// that Read resumes the loop.
func (p *bodyPipe) reserve() (room int, abandoned bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := 0
	if p.buf != nil {
		held = len(*p.buf) - p.r
	}
	room = bodyWindow - held
	if room < pumpMin && !p.abandoned {
		p.starved = true
	}
	return room, p.abandoned
}

// put hands data to the reader; left is the Content-Length still to come
// after it (-1 for chunked).
func (p *bodyPipe) put(data []byte, left int64) {
	p.mu.Lock()
	if p.abandoned {
		p.mu.Unlock()
		return
	}
	p.left = left
	if p.buf == nil {
		if p.left >= 0 && len(data)+int(p.left) <= smallBody {
			p.buf = smallBodyPool.Get().(*[]byte)
		} else {
			p.buf = bigBodyPool.Get().(*[]byte)
		}
	}
	b := *p.buf
	if len(b)+len(data) > cap(b) { // make room: drop what was read, or move to a big buffer
		held := b[p.r:]
		if len(held)+len(data) > cap(b) {
			big := bigBodyPool.Get().(*[]byte)
			*big = append((*big)[:0], held...)
			p.releaseLocked()
			p.buf = big
		} else {
			*p.buf = b[:copy(b, held)]
		}
		p.r = 0
		b = *p.buf
	}
	*p.buf = append(b, data...)
	p.mu.Unlock()
	wake(p.wake)
}

// finish marks the body complete.
func (p *bodyPipe) finish() {
	p.mu.Lock()
	p.done, p.left = true, 0
	p.mu.Unlock()
	wake(p.wake)
}

// fail ends the body with err; status is the server's answer (0 when the
// connection itself failed).
func (p *bodyPipe) fail(status int, err error) {
	p.mu.Lock()
	if !p.done && p.err == nil {
		p.err, p.status = err, status
	}
	p.mu.Unlock()
	wake(p.wake)
}

// releaseLocked returns the buffer to its pool. p.mu must be held.
func (p *bodyPipe) releaseLocked() {
	if p.buf == nil {
		return
	}
	*p.buf = (*p.buf)[:0]
	if cap(*p.buf) == smallBody {
		smallBodyPool.Put(p.buf)
	} else {
		bigBodyPool.Put(p.buf)
	}
	p.buf, p.r = nil, 0
}

// Handler side.

var _ io.ReadCloser = (*bodyPipe)(nil)

// Read reads the body as it arrives. The first Read of a request that
// expects 100-continue sends the 100 Continue (unless the response has
// begun), as net/http does. A body the client framed wrongly or made too
// large fails with an error (*http.MaxBytesError over MaxBodyBytes); a
// connection that closes mid-body gives io.ErrUnexpectedEOF.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	for {
		switch {
		case p.abandoned:
			p.mu.Unlock()
			return 0, http.ErrBodyReadAfterClose
		case p.buf != nil && len(*p.buf) > p.r:
			n := copy(b, (*p.buf)[p.r:])
			p.r += n
			held := len(*p.buf) - p.r
			if held == 0 {
				if p.done || p.left == 0 {
					p.releaseLocked()
				} else {
					*p.buf, p.r = (*p.buf)[:0], 0
				}
			}
			resume := p.starved && bodyWindow-held >= bodyWindow/2
			if resume {
				p.starved = false
			}
			eof := p.done && held == 0
			p.mu.Unlock()
			if resume {
				p.c.ec.Run(func(engineConn) { p.c.resumeBody(p) })
			}
			if eof {
				return n, io.EOF
			}
			return n, nil
		case p.done:
			p.releaseLocked()
			p.mu.Unlock()
			return 0, io.EOF
		case p.err != nil:
			err := p.err
			p.mu.Unlock()
			return 0, err
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		case p.wantContinue:
			p.wantContinue = false
			w := p.w
			p.mu.Unlock()
			if w != nil && !w.wroteHeader {
				w.send(continueLine)
			}
			p.mu.Lock()
			continue
		}
		dl := p.deadline
		p.mu.Unlock()
		if err := p.wait(dl); err != nil {
			return 0, err
		}
		p.mu.Lock()
	}
}

// wait waits for the loop or the read deadline.
func (p *bodyPipe) wait(dl time.Time) error {
	var now time.Time
	if !dl.IsZero() {
		now = p.c.s.now()
	}
	return waitWake(p.wake, dl, now)
}

// Close abandons the rest of the body: the server discards it.
func (p *bodyPipe) Close() error {
	p.abandon()
	return nil
}

// abandon stops the handler's reading; the loop discards the rest. It
// reports whether the connection must close after the response: the
// client waits for a 100 Continue it will not get, or more than
// maxDiscard bytes are known to be still coming.
func (p *bodyPipe) abandon() (closeConn bool) {
	p.mu.Lock()
	if p.abandoned {
		p.mu.Unlock()
		return false
	}
	p.abandoned = true
	p.releaseLocked()
	complete := p.done || p.err != nil
	closeConn = !complete && (p.wantContinue || p.left > maxDiscard)
	resume := p.starved
	p.starved = false
	p.mu.Unlock()
	if resume {
		p.c.ec.Run(func(engineConn) { p.c.resumeBody(p) })
	}
	return closeConn
}

// failure is the status the server answers for a body that failed
// (400, 413), 0 if none.
func (p *bodyPipe) failure() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// setReadDeadline sets Read's deadline (http.ResponseController).
func (p *bodyPipe) setReadDeadline(t time.Time) {
	p.mu.Lock()
	p.deadline = t
	p.mu.Unlock()
	wake(p.wake) // a waiting Read re-checks
}
