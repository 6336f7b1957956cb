package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HTTPBench sends HTTP/1.1 requests on keep-alive connections, -pipeline
// of them in flight per connection (written back to back, which
// net/http's client cannot do), one goroutine per connection (Streams)
// reading responses with ReadResponse. A connection the server closes is
// redialed. It is wharf-bench's http subcommand; NewHTTP makes one.
type HTTPBench struct {
	*Meter
	streams  Streams
	urlFlag  string
	pipeline int
	method   string
	headers  headerFlags

	req   []byte      // one request
	batch []byte      // -pipeline requests back to back
	head  bool        // HEAD: responses have no body
	tls   *tls.Config // -tls or https://: connections handshake first; nil for plain HTTP

	status      [1000]atomic.Int64 // responses by status code
	sent, recvd atomic.Int64       // bytes
}

var _ Bench = (*HTTPBench)(nil)

// headerFlags collects repeated -H flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, "; ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// NewHTTP returns the http bench for options o.
func NewHTTP(o *Options) *HTTPBench {
	h := &HTTPBench{Meter: NewMeter(o)}
	h.streams = Streams{Meter: h.Meter, Dial: h.dial, Serve: h.serve}
	return h
}

// Flags implements Bench: -url, -addr, -pipeline, -method, -H and the
// shared flags.
func (h *HTTPBench) Flags(fs *flag.FlagSet) {
	fs.StringVar(&h.urlFlag, "url", "http://127.0.0.1:8080/", "`URL` to request (http://, or https://, which implies -tls); its host is the Host header")
	fs.StringVar(&h.Opts.AddrFlag, "addr", "", "connect to `HOST:PORT[,...]` instead of the URL's host")
	h.Opts.Flags(fs, "", true, 0)
	fs.IntVar(&h.pipeline, "pipeline", 1, "requests in flight per connection, written back to back (1: no pipelining)")
	fs.StringVar(&h.method, "method", "GET", "request method")
	fs.Var(&h.headers, "H", "extra request header `Name: value` (repeatable)")
}

// Setup implements Bench: it checks the flags and builds the request.
func (h *HTTPBench) Setup() error {
	if h.pipeline < 1 {
		return fmt.Errorf("-pipeline must be at least 1, got %d", h.pipeline)
	}
	u, err := url.Parse(h.urlFlag)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("-url must be http://host[:port]/path or https://..., got %q", h.urlFlag)
	}
	port := "80"
	if u.Scheme == "https" {
		h.Opts.TLS, port = true, "443"
	}
	if len(h.Opts.Addrs) == 0 {
		hostport := u.Host
		if u.Port() == "" {
			hostport = net.JoinHostPort(u.Hostname(), port)
		}
		h.Opts.Addrs = []string{hostport}
	}
	if h.tls, err = h.Opts.TLSConfig(u.Hostname()); err != nil {
		return err
	}
	if h.tls != nil {
		h.tls.NextProtos = []string{"http/1.1"}
	}
	path := u.RequestURI()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wharf-bench\r\n", h.method, path, u.Host)
	for _, hd := range h.headers {
		name, value, ok := strings.Cut(hd, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("-H %q: want \"Name: value\"", hd)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if h.Opts.Size > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", h.Opts.Size)
	}
	b.WriteString("\r\n")
	b.Write(bytes.Repeat([]byte{'x'}, h.Opts.Size))
	h.req = b.Bytes()
	h.batch = bytes.Repeat(h.req, h.pipeline)
	h.head = h.method == "HEAD"
	return nil
}

// Start implements Bench.
func (h *HTTPBench) Start(ctx context.Context) error {
	h.Init(h.Opts.Conns)
	h.streams.Start(ctx)
	return nil
}

// dial opens connection i to its target, from its source address.
func (h *HTTPBench) dial(ctx context.Context, i int) (net.Conn, error) {
	addr, src := h.Opts.Target(i)
	d := net.Dialer{Timeout: h.Opts.Timeout, Control: BindNoPort}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || h.tls == nil {
		return nc, err
	}
	tc := tls.Client(nc, h.tls)
	hctx, cancel := context.WithTimeout(ctx, h.Opts.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// serve runs requests on nc until it fails, the server closes it, or the
// run stops (see Streams.Serve).
func (h *HTTPBench) serve(ctx context.Context, nc net.Conn, i int, p *Pace) (more bool, reason string) {
	sent := NewRing(h.pipeline)
	defer func() {
		if sent.Len() > 0 && reason != "" && !h.Stopping() {
			h.Errs.Add("http:lost_in_flight", int64(sent.Len()))
		}
	}()
	br := bufio.NewReaderSize(nc, 32<<10)
	for {
		k, now := h.streams.TopUp(ctx, p, sent.Len(), h.pipeline)
		if k > 0 {
			nc.SetWriteDeadline(time.Now().Add(h.Opts.Timeout))
			if _, err := nc.Write(h.batch[:k*len(h.req)]); err != nil {
				h.Errs.Add("http:write_"+Kind(err), 1)
				return true, Kind(err)
			}
			h.sent.Add(int64(k * len(h.req)))
			for range k {
				sent.Push(now)
			}
		}
		if sent.Len() == 0 {
			return false, "" // stopping, or -n used up: this connection is done
		}
		nc.SetReadDeadline(time.Now().Add(h.Opts.Timeout))
		r, err := ReadResponse(br, h.head)
		h.recvd.Add(r.Wire)
		if err != nil {
			if h.Stopping() && ctx.Err() != nil {
				return false, ""
			}
			kind := Kind(err)
			if errors.Is(err, ErrBadResponse) {
				kind = "bad_response"
			}
			if kind == KindEOF {
				kind = "server_closed"
			}
			return true, kind
		}
		h.Complete(i, sent.Pop(), h.Now())
		h.status[min(r.Status, 999)].Add(1)
		switch {
		case r.Status >= 500:
			h.Errs.Add("http:5xx", 1)
		case r.Status >= 400:
			h.Errs.Add("http:4xx", 1)
		}
		if !r.KeepAlive {
			// The server ends the connection after this response: what is
			// still in flight is lost; redial.
			if sent.Len() > 0 {
				h.Errs.Add("http:lost_in_flight", int64(sent.Len()))
				sent.Reset()
			}
			return true, ""
		}
	}
}

// Finish implements Bench: it fills Conns, Requests, Latency, the byte
// counts and StatusCodes.
func (h *HTTPBench) Finish(res *Result) {
	h.streams.Finish(min(h.Opts.Timeout, 5*time.Second))
	h.FillResult(res)
	res.BytesSent = h.sent.Load()
	res.BytesReceived = h.recvd.Load()
	res.StatusCodes = map[string]int64{}
	for code := range h.status {
		if n := h.status[code].Load(); n > 0 {
			res.StatusCodes[strconv.Itoa(code)] = n
		}
	}
}
