package httpd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"sync"

	"wharf/engine"
	"wharf/httpd/internal/h1"
)

// job is one request for a handler goroutine.
type job struct {
	c      *hconn
	req    *http.Request
	ctx    context.Context
	cancel context.CancelFunc
	seq    uint64 // order among the connection's requests (responses follow it)
	minor  int
	close  bool // the client asked to close after this response
	head   bool
	alone  bool // served with nothing after it in flight (it may hijack)
}

// gone cancels the request context: the client went away.
func (j *job) gone() { j.cancel() }

// newJob turns the parsed request into an *http.Request. Everything is
// copied: the parsed slices point into the connection's buffer, which the
// loop reuses as soon as the job is dispatched.
func (c *hconn) newJob() (*job, error) {
	r := &c.req
	u, err := requestURL(r)
	if err != nil {
		return nil, err
	}
	hdr := make(http.Header, len(r.Headers))
	for _, f := range r.Headers {
		key := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		if key == "Host" {
			continue // it is Request.Host, as net/http does
		}
		hdr[key] = append(hdr[key], string(f.Value))
	}
	ctx, cancel := c.requestContext()
	req := &http.Request{
		Method:     string(r.Method),
		URL:        u,
		Proto:      string(r.Proto),
		ProtoMajor: r.Major,
		ProtoMinor: r.Minor,
		Header:     hdr,
		Host:       string(r.Host),
		RequestURI: string(r.Target),
		RemoteAddr: c.remoteString(),
		Close:      r.Close,
	}
	if u.Host != "" { // absolute-form wins over Host (RFC 9112 §3.2.2)
		req.Host = u.Host
	}
	switch {
	case r.Chunked:
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	default:
		req.ContentLength = int64(len(c.body))
	}
	if len(c.body) > 0 {
		req.Body = &bodyReader{r: bytes.NewReader(bytes.Clone(c.body))}
	} else {
		req.Body = http.NoBody
	}
	req = req.WithContext(context.WithValue(ctx, http.LocalAddrContextKey, c.localAddr()))
	return &job{c: c, req: req, ctx: ctx, cancel: cancel, minor: r.Minor, close: r.Close, head: isHead(r.Method)}, nil
}

func requestURL(r *h1.Request) (*url.URL, error) {
	target := string(r.Target)
	switch {
	case string(r.Method) == "CONNECT":
		return &url.URL{Host: target}, nil
	case target == "*":
		return &url.URL{Path: "*"}, nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("bad request target: %v", err)
	}
	return u, nil
}

// remoteString and localAddr are computed once per connection, lazily (an
// idle connection keeps nothing).
func (c *hconn) remoteString() string {
	if c.remote == "" {
		c.remote = c.ec.RemoteAddr().String()
	}
	return c.remote
}

func (c *hconn) localAddr() net.Addr {
	if c.local == nil {
		c.local = c.ec.LocalAddr()
	}
	return c.local
}

// bodyReader is a request body held in memory.
type bodyReader struct {
	r *bytes.Reader
}

func (b *bodyReader) Read(p []byte) (int, error)         { return b.r.Read(p) }
func (b *bodyReader) WriteTo(w io.Writer) (int64, error) { return b.r.WriteTo(w) }
func (b *bodyReader) Close() error                       { return nil }

// serveHTTP runs the handler on a handler goroutine and sends the response.
func (c *hconn) serveHTTP(j *job) {
	s := c.s
	w := newResponse(j)
	defer func() {
		p := recover()
		switch {
		case p == nil:
		case p == http.ErrAbortHandler:
			w.abort()
		default:
			s.ctr.panics.Add(1)
			s.cfg.Logger.Error("httpd: handler panic", "method", j.req.Method, "uri", j.req.RequestURI, "panic", p, "stack", string(debug.Stack()))
			if w.headerSent {
				w.abort() // too late for a 500: cut the response off
			} else {
				w.reset()
				w.status, w.wroteHeader, w.closeAfter = 500, true, true
				w.buf = append(w.buf[:0], "internal server error\n"...)
			}
		}
		if !w.aborted && !w.hijacked {
			w.finish()
		}
		if !w.hijacked {
			c.ord.ended(w) // pass the turn on (at once, or when it comes)
		}
		j.cancel()
		s.active.Add(-1)
		if w.hijacked {
			s.ctr.hijacked.Add(1)
			return
		}
		s.ctr.count(w.status)
		if !w.resumeQueued {
			// Nothing carried the completion (the connection failed):
			// tell the loop directly.
			closeConn := w.closeAfter || w.aborted
			c.ec.Run(func(engine.Conn) { c.answered(closeConn) })
		}
		w.release()
	}()
	s.cfg.Handler.ServeHTTP(w, j.req)
}

// outBuf is a pooled buffer handed to AsyncWrite; done returns it to the
// pool and updates the response's flow control. The response's last buffer
// also hands the connection back to the loop (resume), saving a task.
type outBuf struct {
	b         []byte
	w         *response
	resume    bool             // the last buffer of the response
	closeConn bool             // close instead of reading the next request
	doneFn    engine.WriteDone // o.done, bound once per pooled object
}

var outPool sync.Pool

func init() { // New refers back to outPool through done: set it after init of the var
	outPool.New = func() any {
		o := &outBuf{}
		o.doneFn = o.done
		return o
	}
}

func (o *outBuf) done(_ engine.Conn, err error) {
	w, n, resume, closeConn := o.w, len(o.b), o.resume, o.closeConn
	c := w.c
	if cap(o.b) <= maxPooledOut {
		o.b, o.w, o.resume, o.closeConn = o.b[:0], nil, false, false
		outPool.Put(o)
	}
	w.sent(n, err)
	w.writes.Add(-1) // the last access to w: it may be recycled from here on
	if resume && err == nil {
		c.answered(closeConn) // on the loop: done callbacks run there
	}
}

// maxPooledOut keeps the pool from pinning big response buffers.
const maxPooledOut = 64 << 10
