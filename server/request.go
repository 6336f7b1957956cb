package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"wharf/packet"
)

// Request is one packet being served by a handler. Requests are recycled
// (each worker has one): a handler must not keep r or r.Body after it
// returns (copy what it needs).
type Request struct {
	Conn     *Conn     // the sender; its methods are safe from any goroutine
	Code     uint16    // message code
	Body     []byte    // packet body; valid until the handler returns
	Received time.Time // when the packet was decoded

	srv     *Server
	w       *worker // the worker serving r
	replied bool
}

// Context is cancelled when the server shuts down.
func (r *Request) Context() context.Context { return r.srv.ctx }

// Reply sends body back with the request's code. A request is answered once.
// The reply joins the worker's reply batch (see Flush).
func (r *Request) Reply(body []byte) error {
	if r.replied {
		return ErrReplied
	}
	r.replied = true
	r.w.answered(r)
	return r.Conn.Send(r.Code, body)
}

// Flush hands the replies batched so far in the worker's turn, r's own if
// it has replied, to the transport now, rather than when the turn ends. A
// handler about to block (on a database, say) calls it so that the replies
// to the requests before its own need not wait for it.
func (r *Request) Flush() {
	r.Conn.flush()
	r.w.sent()
}

// ReplyJSON replies with v encoded as JSON.
func (r *Request) ReplyJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.Reply(b)
}

// Error answers with a code 1 packet {"code": <request code>, "error": msg}.
func (r *Request) Error(msg string) error {
	if r.replied {
		return ErrReplied
	}
	r.replied = true
	r.w.answered(r)
	return r.Conn.sendError(r.Code, msg)
}

// Refuse answers the request with a code 1 error saying why it was refused
// and, when retryAfter is positive, after how long the client may try again
// (`"retry_after"`, in seconds): the answer to a rate limit or to a busy
// server (packet/SPEC.md). It fails with ErrReplied after a reply.
func (r *Request) Refuse(msg string, retryAfter time.Duration) error {
	if r.replied {
		return ErrReplied
	}
	r.replied = true
	b, _ := json.Marshal(errorBody{Code: r.Code, Error: msg, RetryAfter: retryAfter.Seconds()})
	p, _ := packet.Encode(packet.CodeError, b)
	return r.Conn.sendPacket(p)
}

// errorBody is the JSON body of a code 1 packet.
type errorBody struct {
	Code       uint16  `json:"code"`
	Error      string  `json:"error"`
	RetryAfter float64 `json:"retry_after,omitempty"` // seconds
}

func encodeError(code uint16, msg string) []byte {
	b, _ := json.Marshal(errorBody{Code: code, Error: msg})
	p, _ := packet.Encode(packet.CodeError, b)
	return p
}

// inbox is a run of one connection's requests waiting for a worker, back
// to back in buf: each a recordSize-byte header (code, body length,
// arrival) and the body. The event loop appends to the connection's open
// inbox (Conn.in, under Conn.mu); a worker takes the whole inbox and reads
// it from off on its own (Conn.cur), so a request costs the loop one copy
// and no allocation, and the worker one lock per inbox, not per request.
type inbox struct {
	buf   []byte
	times []time.Time // arrival times; requests decoded by one OnData share one
	off   int         // next record (worker)
}

// A record header, in native byte order (it never leaves the process): the
// code (2 bytes), the body length (2; bodies are under 64 KiB, and
// markerLen marks an "overloaded" marker, which has no body), and the index
// of the arrival time in times (4).
const (
	recordSize = 8
	markerLen  = 0xffff
)

// add appends a request that arrived at now; a nil body with marker true
// appends an "overloaded" marker.
func (in *inbox) add(code uint16, marker bool, now time.Time, body []byte) {
	if k := len(in.times); k == 0 || in.times[k-1] != now {
		in.times = append(in.times, now)
	}
	n := len(in.buf)
	in.buf = slices.Grow(in.buf, recordSize+len(body))[:n+recordSize]
	h := in.buf[n:]
	size := uint16(len(body))
	if marker {
		size = markerLen
	}
	binary.NativeEndian.PutUint16(h[0:], code)
	binary.NativeEndian.PutUint16(h[2:], size)
	binary.NativeEndian.PutUint32(h[4:], uint32(len(in.times)-1))
	in.buf = append(in.buf, body...)
}

// next reads the next request, or marker; ok is false at the end. body
// points into the inbox: it is valid until the inbox is released.
func (in *inbox) next() (code uint16, marker bool, at time.Time, body []byte, ok bool) {
	if in.off >= len(in.buf) {
		return 0, false, time.Time{}, nil, false
	}
	h := in.buf[in.off : in.off+recordSize]
	code, size := binary.NativeEndian.Uint16(h[0:]), binary.NativeEndian.Uint16(h[2:])
	at = in.times[binary.NativeEndian.Uint32(h[4:])]
	start := in.off + recordSize
	if size == markerLen {
		in.off = start
		return code, true, at, nil, true
	}
	end := start + int(size)
	in.off = end
	return code, false, at, in.buf[start:end:end], true
}

// drained reports whether every request of the inbox has been read.
func (in *inbox) drained() bool { return in.off >= len(in.buf) }

// maxPooledInbox keeps inboxes that held large requests out of the pool.
const maxPooledInbox = 32 << 10

var inboxes = sync.Pool{New: func() any { return new(inbox) }}

func newInbox() *inbox { return inboxes.Get().(*inbox) }

func (in *inbox) release() {
	if cap(in.buf) > maxPooledInbox {
		return
	}
	clear(in.times)
	in.buf, in.times, in.off = in.buf[:0], in.times[:0], 0
	inboxes.Put(in)
}
