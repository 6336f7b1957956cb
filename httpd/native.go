package httpd

import (
	"bytes"
	"net"
	"runtime/debug"
	"sync"

	"wharf/httpd/internal/h1"
)

// NativeHandler serves requests on the event loop with RequestCtx: no
// goroutine hand-off and no allocation per request. It must not block:
// while it runs, every other connection of its loop waits. Use it for hot
// paths; use Config.Handler for everything else.
type NativeHandler interface {
	ServeNative(c *RequestCtx)
}

// NativeFunc adapts a function to NativeHandler.
type NativeFunc func(c *RequestCtx)

// ServeNative calls f(c).
func (f NativeFunc) ServeNative(c *RequestCtx) { f(c) }

// RequestCtx is one request and its response for a NativeHandler. It and
// every slice it returns are valid only until the handler returns.
type RequestCtx struct {
	hc   *hconn
	req  *h1.Request
	body []byte

	status    int
	ctype     string
	hdr       []byte // extra "Name: value\r\n" lines
	out       []byte // response body
	closeConn bool

	upResp  []byte   // the 101 response of an Upgrade (its capacity is kept)
	upProto Protocol // takes the connection over after an Upgrade (upgrade.go)
}

var ctxPool = sync.Pool{New: func() any { return new(RequestCtx) }}

// Method is the request method ("GET").
func (c *RequestCtx) Method() []byte { return c.req.Method }

// RequestURI is the request target as sent ("/path?query").
func (c *RequestCtx) RequestURI() []byte { return c.req.Target }

// Path is the target up to '?'.
func (c *RequestCtx) Path() []byte {
	if i := bytes.IndexByte(c.req.Target, '?'); i >= 0 {
		return c.req.Target[:i]
	}
	return c.req.Target
}

// QueryString is the target after '?' ("" if none).
func (c *RequestCtx) QueryString() []byte {
	if i := bytes.IndexByte(c.req.Target, '?'); i >= 0 {
		return c.req.Target[i+1:]
	}
	return nil
}

// Host is the Host header.
func (c *RequestCtx) Host() []byte { return c.req.Host }

// Header returns the first value of a request header (case-insensitive
// name), or nil.
func (c *RequestCtx) Header(name string) []byte { return c.req.Get(name) }

// Body is the request body, complete and decoded (native bodies are
// buffered before the handler runs, at most Config.MaxBodyBytes; see the
// package doc). Like every slice of RequestCtx it is valid only until the
// handler returns.
func (c *RequestCtx) Body() []byte { return c.body }

// RemoteAddr is the client's address.
func (c *RequestCtx) RemoteAddr() net.Addr { return c.hc.ec.RemoteAddr() }

// SetStatusCode sets the response status (default 200).
func (c *RequestCtx) SetStatusCode(code int) { c.status = code }

// SetContentType sets the Content-Type (default "text/plain; charset=utf-8").
func (c *RequestCtx) SetContentType(ct string) { c.ctype = ct }

// SetHeader adds a response header. Names and values that could split the
// response (CR, LF, NUL) are refused and reported false, and so are the
// fields the server sets itself, in any letter case: Content-Length,
// Transfer-Encoding, Date, Server and Connection (use SetConnectionClose).
// It does not allocate beyond growing the context's header buffer.
func (c *RequestCtx) SetHeader(name, value string) bool {
	if !h1.ValidHeaderName(name) || !h1.ValidHeaderValue(value) || fieldOf(name)&nativeOwned != 0 {
		return false
	}
	c.hdr = append(c.hdr, name...)
	c.hdr = append(c.hdr, ": "...)
	c.hdr = append(c.hdr, value...)
	c.hdr = append(c.hdr, "\r\n"...)
	return true
}

// nativeOwned are the fields RequestCtx.SetHeader refuses: the server
// writes them into every native response.
const nativeOwned = fieldDate | fieldServer | fieldConnection | fieldContentLength | fieldTransferEncoding

// Write appends to the response body.
func (c *RequestCtx) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

// WriteString appends to the response body.
func (c *RequestCtx) WriteString(s string) (int, error) {
	c.out = append(c.out, s...)
	return len(s), nil
}

// SetConnectionClose closes the connection after this response.
func (c *RequestCtx) SetConnectionClose() { c.closeConn = true }

// maxPooledNative keeps pooled contexts from pinning large bodies.
const maxPooledNative = 64 << 10

// serveNative runs the native handler on the loop and queues the response;
// consume is how many buffered bytes the request occupies (0 if already
// consumed). The response is built before those bytes are consumed, since
// the request's slices point into them.
func (c *hconn) serveNative(consume int) {
	s := c.s
	ctx := ctxPool.Get().(*RequestCtx)
	ctx.hc, ctx.req, ctx.body, ctx.status = c, &c.req, c.body, 200
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.ctr.panics.Add(1)
				s.cfg.Logger.Error("httpd: native handler panic", "panic", p, "stack", string(debug.Stack()))
				ctx.status, ctx.ctype, ctx.hdr, ctx.out = 500, "", ctx.hdr[:0], append(ctx.out[:0], "internal server error\n"...)
				ctx.closeConn = true
				ctx.upProto = nil
			}
		}()
		s.cfg.Native.ServeNative(ctx)
	}()
	closeConn := ctx.closeConn || c.req.Close || s.stopping.Load()
	upgrade := ctx.upProto
	if upgrade != nil {
		closeConn = false
		c.ec.Write(ctx.upResp)
	} else {
		resp := c.appendNativeResponse(c.s.respScratch(), ctx, closeConn)
		c.ec.Write(resp)
		s.putScratch(resp)
	}
	s.ctr.count(ctx.status)
	if consume > 0 {
		c.ec.Discard(consume)
	}
	ctx.hc, ctx.req, ctx.body, ctx.ctype, ctx.closeConn = nil, nil, nil, "", false
	ctx.upResp, ctx.upProto = ctx.upResp[:0], nil
	ctx.hdr = ctx.hdr[:0]
	if cap(ctx.out) > maxPooledNative {
		ctx.out = nil
	}
	ctx.out = ctx.out[:0]
	ctxPool.Put(ctx)
	s.active.Add(-1)
	c.phase = phaseIdle
	if upgrade != nil {
		s.ctr.hijacked.Add(1)
		c.switchProtocol(upgrade)
		return
	}
	if closeConn {
		c.ec.Close()
		c.closed = true
	}
}

func (c *hconn) appendNativeResponse(b []byte, ctx *RequestCtx, closeConn bool) []byte {
	s := c.s
	b = h1.AppendStatusLine(b, c.req.Minor, ctx.status)
	b = append(b, *s.date.Load()...)
	if s.cfg.ServerName != "" {
		b = append(b, "Server: "...)
		b = append(b, s.cfg.ServerName...)
		b = append(b, "\r\n"...)
	}
	noBody := !bodyAllowedForStatus(ctx.status)
	if !noBody {
		b = append(b, "Content-Type: "...)
		if ctx.ctype != "" {
			b = append(b, ctx.ctype...)
		} else {
			b = append(b, "text/plain; charset=utf-8"...)
		}
		b = append(b, "\r\nContent-Length: "...)
		b = appendInt(b, int64(len(ctx.out)))
		b = append(b, "\r\n"...)
	}
	b = append(b, ctx.hdr...)
	if closeConn {
		b = append(b, "Connection: close\r\n"...)
	} else if c.req.Minor == 0 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	if !noBody && !isHead(c.req.Method) {
		b = append(b, ctx.out...)
	}
	return b
}

func isHead(m []byte) bool {
	return len(m) == 4 && m[0] == 'H' && m[1] == 'E' && m[2] == 'A' && m[3] == 'D'
}

// bodyAllowedForStatus reports whether a status may carry a body (RFC 9110
// §15: not 1xx, 204 or 304).
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == 204, status == 304:
		return false
	}
	return true
}

// respScratch returns a buffer to build a response in; the engine copies
// what Write is given, so the buffer is reused at once.
func (s *Server) respScratch() []byte {
	if p := scratchPool.Get(); p != nil {
		return (*p.(*[]byte))[:0]
	}
	return make([]byte, 0, 1024)
}

func (s *Server) putScratch(b []byte) {
	if cap(b) > maxPooledNative {
		return
	}
	scratchPool.Put(&b)
}

var scratchPool sync.Pool
