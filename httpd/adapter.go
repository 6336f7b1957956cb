package httpd

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"wharf/engine"
	"wharf/httpd/internal/h1"
	"wharf/tlsconn"
)

// job is one request for a handler goroutine.
type job struct {
	c      *hconn
	req    *http.Request
	ctx    context.Context
	cancel context.CancelFunc
	body   *bodyPipe // the request body, nil when it has none
	seq    uint64    // order among the connection's requests (responses follow it)

	// ownWriteDL is set when the handler took over its write deadline
	// (response.SetWriteDeadline): the connection then applies no
	// WriteTimeout to it. Written by the handler, read by the loop.
	ownWriteDL atomic.Bool
	minor      int
	close      bool // the client asked to close after this response
	head       bool
	alone      bool // served with nothing after it in flight (it may hijack)
}

// gone cancels the request context: the client went away.
func (j *job) gone() { j.cancel() }

// newJob turns the parsed request into an *http.Request. Everything is
// copied: the parsed slices point into the connection's buffer, which the
// loop reuses as soon as the job is dispatched.
func (c *hconn) newJob() (*job, error) {
	r := &c.req
	target := string(r.Target) // RequestURI; the URL's strings share it
	u, err := requestURL(r, target)
	if err != nil {
		return nil, err
	}
	hdr := make(http.Header, len(r.Headers))
	for _, f := range r.Headers {
		key, ok := commonHeaderKeys[string(f.Name)] // no allocation for a map lookup
		if !ok {
			key = textproto.CanonicalMIMEHeaderKey(string(f.Name))
		}
		if key == "Host" {
			continue // it is Request.Host, as net/http does
		}
		hdr[key] = append(hdr[key], string(f.Value))
	}
	ctx, cancel := c.requestContext()
	// The request is built in a pooled template and copied once by
	// WithContext (the only way to set its context from outside net/http).
	tmpl := reqTemplates.Get().(*http.Request)
	*tmpl = http.Request{
		Method:     internMethod(r.Method),
		URL:        u,
		Proto:      internProto(r.Proto),
		ProtoMajor: r.Major,
		ProtoMinor: r.Minor,
		Header:     hdr,
		Host:       c.hostString(r.Host),
		RequestURI: target,
		RemoteAddr: c.remoteString(),
		Close:      r.Close,
		TLS:        c.tlsState(),
	}
	if u.Host != "" { // absolute-form wins over Host (RFC 9112 §3.2.2)
		tmpl.Host = u.Host
	}
	switch {
	case r.Chunked:
		tmpl.ContentLength = -1
		tmpl.TransferEncoding = chunkedCoding
	case r.ContentLength > 0:
		tmpl.ContentLength = r.ContentLength
	}
	if c.pipe != nil {
		tmpl.Body = c.pipe
	} else {
		tmpl.Body = http.NoBody
	}
	req := tmpl.WithContext(ctx)
	*tmpl = http.Request{}
	reqTemplates.Put(tmpl)
	return &job{c: c, req: req, ctx: ctx, cancel: cancel, body: c.pipe, minor: r.Minor, close: r.Close, head: isHead(r.Method)}, nil
}

// chunkedCoding is Request.TransferEncoding of chunked requests, shared
// (net/http's handlers only read it).
var chunkedCoding = []string{"chunked"}

func requestURL(r *h1.Request, target string) (*url.URL, error) {
	switch {
	case string(r.Method) == "CONNECT":
		return &url.URL{Host: target}, nil
	case target == "*":
		return &url.URL{Path: "*"}, nil
	}
	if u, ok := originFormURL(target); ok {
		return u, nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("bad request target: %v", err)
	}
	return u, nil
}

// originFormURL parses the common request target, "/path?query" with a path
// that url.ParseRequestURI would keep exactly as written, to the same URL
// without its general parser; ok is false for anything else (escapes,
// characters that need them), which then takes the general path.
func originFormURL(target string) (u *url.URL, ok bool) {
	if target == "" || target[0] != '/' {
		return nil, false
	}
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if !plainPathByte[path[i]] {
			return nil, false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < 0x21 || c == 0x7f {
			return nil, false // the general parser's error
		}
	}
	return &url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}, true
}

// plainPathByte marks the bytes a path keeps unescaped (url.URL.RawPath
// stays empty): letters, digits and $&+,-./:;=@_~.
var plainPathByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("$&+,-./:;=@_~", byte(c)) >= 0
	}
	return t
}()

// The strings most requests repeat are shared rather than allocated per
// request: methods, protocol versions, common header names (in the forms
// clients send), and the connection's last Host.

func internMethod(b []byte) string {
	switch string(b) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "OPTIONS":
		return http.MethodOptions
	case "PATCH":
		return http.MethodPatch
	}
	return string(b)
}

func internProto(b []byte) string {
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return string(b)
}

func (c *hconn) hostString(b []byte) string {
	if string(b) != c.host {
		c.host = string(b)
	}
	return c.host
}

var commonHeaderKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Cookie", "Date", "Expect", "Forwarded", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma",
		"Range", "Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User",
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests", "User-Agent",
		"Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
	} {
		k = textproto.CanonicalMIMEHeaderKey(k)
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	return m
}()

var reqTemplates = sync.Pool{New: func() any { return new(http.Request) }}

// remoteString is computed once per connection, lazily (an idle connection
// keeps nothing).
func (c *hconn) remoteString() string {
	if c.remote == "" {
		c.remote = c.ec.RemoteAddr().String()
	}
	return c.remote
}

// tlsState is Request.TLS: the connection's state over HTTPS, nil over
// HTTP. Like net/http, every request of a connection shares one copy,
// made on the first request.
func (c *hconn) tlsState() *tls.ConnectionState {
	if !c.tlsSet {
		c.tlsSet = true
		if st, ok := tlsconn.ConnectionState(c.ec); ok {
			c.tlsSt = &st
		}
	}
	return c.tlsSt
}

// serveHTTP runs the handler on a handler goroutine and sends the response.
func (c *hconn) serveHTTP(j *job) {
	s := c.s
	w := newResponse(j)
	if j.body != nil {
		j.body.mu.Lock()
		j.body.w = w // for the 100 Continue
		j.body.mu.Unlock()
	}
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
		if j.body != nil && !w.hijacked {
			w.endBody(j.body)
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
		w.unref()
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
	w.unref() // the last access to w: it may be recycled from here on
	if resume && err == nil {
		c.answered(closeConn) // on the loop: done callbacks run there
	}
}

// maxPooledOut keeps the pool from pinning big response buffers.
const maxPooledOut = 64 << 10

// maxPooledHeader keeps the pool from pinning big response header maps.
const maxPooledHeader = 16
