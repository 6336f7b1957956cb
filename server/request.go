package server

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"wharf/packet"
)

// Request is one packet waiting for, or being served by, a handler.
// Requests are recycled: a handler must not keep r or r.Body after it
// returns (copy what it needs).
type Request struct {
	Conn     *Conn     // the sender; its methods are safe from any goroutine
	Code     uint16    // message code
	Body     []byte    // packet body; valid until the handler returns
	Received time.Time // when the packet was decoded

	srv        *Server
	next       *Request // mailbox link, guarded by Conn.mu
	replied    bool
	overloaded bool // a marker: answer "overloaded" without running a handler
}

// Context is cancelled when the server shuts down.
func (r *Request) Context() context.Context { return r.srv.ctx }

// Reply sends body back with the request's code. A request is answered once.
func (r *Request) Reply(body []byte) error {
	if r.replied {
		return ErrReplied
	}
	r.replied = true
	return r.Conn.Send(r.Code, body)
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
	return r.Conn.SendEncoded(p)
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

// maxPooledBody keeps pooled requests from pinning large bodies.
const maxPooledBody = 4096

var requestPool = sync.Pool{New: func() any { return new(Request) }}

func newRequest(s *Server, c *Conn, code uint16, body []byte, at time.Time) *Request {
	r := requestPool.Get().(*Request)
	r.srv, r.Conn, r.Code, r.Received = s, c, code, at
	r.Body = append(r.Body[:0], body...)
	return r
}

func (r *Request) release() {
	body := r.Body[:0]
	if cap(body) > maxPooledBody {
		body = nil
	}
	*r = Request{Body: body}
	requestPool.Put(r)
}
