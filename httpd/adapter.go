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
	url    url.URL // req.URL for an origin-form target (one allocation less)
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
	j := &job{c: c}
	target := c.targetString(r.Target) // RequestURI; the URL's strings share it
	u, err := requestURL(r, target, &j.url)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.requestContext()
	// The request is built in a template on the stack and copied once by
	// WithContext (the only way to set its context from outside net/http).
	tmpl := http.Request{
		Method:     internMethod(r.Method),
		URL:        u,
		Proto:      internProto(r.Proto),
		ProtoMajor: r.Major,
		ProtoMinor: r.Minor,
		Header:     requestHeader(r.Headers),
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
	j.req = tmpl.WithContext(ctx)
	j.ctx, j.cancel, j.body = ctx, cancel, c.pipe
	j.minor, j.close, j.head = r.Minor, r.Close, isHead(r.Method)
	return j, nil
}

// requestHeader is Request.Header for the parsed field lines, minus Host
// (it is Request.Host, as in net/http). The values' strings are one
// allocation, and their one-element slices another, rather than two per
// field: each slice has no spare capacity, so a handler that appends to
// one gets a copy instead of writing over the next.
func requestHeader(fields []h1.Header) http.Header {
	n, size := 0, 0
	for _, f := range fields {
		if !isHostField(f.Name) {
			n++
			size += len(f.Value)
		}
	}
	hdr := make(http.Header, n)
	if n == 0 {
		return hdr
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, f := range fields {
		if !isHostField(f.Name) {
			sb.Write(f.Value)
		}
	}
	all := sb.String()
	vals := make([]string, n)
	i, off := 0, 0
	for _, f := range fields {
		if isHostField(f.Name) {
			continue
		}
		key, ok := commonHeaderKeys[string(f.Name)] // no allocation for a map lookup
		if !ok {
			key = textproto.CanonicalMIMEHeaderKey(string(f.Name))
		}
		vals[i] = all[off : off+len(f.Value)]
		off += len(f.Value)
		if vs := hdr[key]; vs != nil {
			hdr[key] = append(vs, vals[i]) // a repeated field: its own slice
		} else {
			hdr[key] = vals[i : i+1 : i+1]
		}
		i++
	}
	return hdr
}

// isHostField reports whether a field name is Host, in any letter case.
func isHostField(name []byte) bool {
	return len(name) == 4 && (name[0]|0x20) == 'h' && (name[1]|0x20) == 'o' && (name[2]|0x20) == 's' && (name[3]|0x20) == 't'
}

// chunkedCoding is Request.TransferEncoding of chunked requests, shared
// (net/http's handlers only read it).
var chunkedCoding = []string{"chunked"}

// requestURL parses the request target; an origin-form one is parsed into
// u, which the caller provides.
func requestURL(r *h1.Request, target string, u *url.URL) (*url.URL, error) {
	switch {
	case string(r.Method) == "CONNECT":
		return &url.URL{Host: target}, nil
	case target == "*":
		return &url.URL{Path: "*"}, nil
	}
	if originFormURLInto(target, u) {
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
	u = new(url.URL)
	if !originFormURLInto(target, u) {
		return nil, false
	}
	return u, true
}

// originFormURLInto is originFormURL writing into u (left alone when it
// reports false).
func originFormURLInto(target string, u *url.URL) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if !plainPathByte[path[i]] {
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < 0x21 || c == 0x7f {
			return false // the general parser's error
		}
	}
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return true
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

// targetString is the request target as a string, shared with the
// connection's previous request when it is the same (a client polling one
// URL, a benchmark): a string is never modified, and the URL and
// RequestURI only point into it.
func (c *hconn) targetString(b []byte) string {
	if string(b) != c.target {
		c.target = string(b)
	}
	return c.target
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
	own       bool             // it is a response's out0, recycled with the response
	doneFn    engine.WriteDone // o.done, bound once per object
}

var outPool sync.Pool

func init() { // New refers back to outPool through done: set it after init of the var
	outPool.New = func() any {
		o := &outBuf{}
		o.doneFn = o.done
		return o
	}
}

// release empties o and gives it back: to the pool, or (out0) to its
// response, which keeps it until it is recycled itself.
func (o *outBuf) release() {
	o.w, o.resume, o.closeConn = nil, false, false
	if o.own {
		o.b = o.b[:0]
		return
	}
	if cap(o.b) <= maxPooledOut {
		o.b = o.b[:0]
		outPool.Put(o)
	}
}

func (o *outBuf) done(_ engine.Conn, err error) {
	w, n, resume, closeConn := o.w, len(o.b), o.resume, o.closeConn
	c := w.c
	o.release() // before unref: o may be part of w
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
