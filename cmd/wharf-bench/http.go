package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wharf/internal/loadgen"
)

// httpBench sends HTTP/1.1 requests on keep-alive connections, -pipeline
// of them in flight per connection (written back to back, which net/http's
// client cannot do), one goroutine per connection reading responses with
// readResponse. A connection the server closes is redialed.
type httpBench struct {
	*tcpBench
	urlFlag  string
	pipeline int
	method   string
	headers  headerFlags

	req   []byte // one request
	batch []byte // -pipeline requests back to back
	head  bool

	status      [1000]atomic.Int64 // responses by status code
	sent, recvd atomic.Int64       // bytes
	reconnects  atomic.Int64
	wg          sync.WaitGroup
	ctx         context.Context // ends the connection goroutines
	cancel      context.CancelFunc
	mu          sync.Mutex       // guards conns
	conns       map[int]net.Conn // open connections, to unblock them at the end
}

// headerFlags collects repeated -H flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, "; ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func newHTTP(o *options) bench {
	return &httpBench{tcpBench: newTCPBench(o), conns: map[int]net.Conn{}}
}

func (h *httpBench) flags(fs *flag.FlagSet) {
	fs.StringVar(&h.urlFlag, "url", "http://127.0.0.1:8080/", "`URL` to request (http only); its host is the Host header")
	fs.StringVar(&h.o.addrFlag, "addr", "", "connect to `HOST:PORT[,...]` instead of the URL's host")
	h.o.commonFlags(fs, "", true, 0)
	fs.IntVar(&h.pipeline, "pipeline", 1, "requests in flight per connection, written back to back (1: no pipelining)")
	fs.StringVar(&h.method, "method", "GET", "request method")
	fs.Var(&h.headers, "H", "extra request header `Name: value` (repeatable)")
}

func (h *httpBench) setup() error {
	if h.pipeline < 1 {
		return fmt.Errorf("-pipeline must be at least 1, got %d", h.pipeline)
	}
	u, err := url.Parse(h.urlFlag)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url must be http://host[:port]/path, got %q", h.urlFlag)
	}
	if len(h.o.addrs) == 0 {
		hostport := u.Host
		if u.Port() == "" {
			hostport = net.JoinHostPort(u.Hostname(), "80")
		}
		h.o.addrs = []string{hostport}
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
	if h.o.size > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", h.o.size)
	}
	b.WriteString("\r\n")
	b.Write(bytes.Repeat([]byte{'x'}, h.o.size))
	h.req = b.Bytes()
	h.batch = bytes.Repeat(h.req, h.pipeline)
	h.head = h.method == "HEAD"
	return nil
}

func (h *httpBench) start(ctx context.Context) error {
	h.init(h.o.conns)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	var dialed sync.WaitGroup
	dialed.Add(h.o.conns)
	for i := range h.o.conns {
		h.wg.Add(1)
		go h.runConn(i, &dialed)
	}
	// The window starts when every connection has made its first attempt.
	ok := make(chan struct{})
	go func() { dialed.Wait(); close(ok) }()
	select {
	case <-ok:
	case <-ctx.Done():
		h.cancel()
		<-ok
	}
	return nil
}

// runConn is connection i's goroutine: dial, serve, redial until the end.
func (h *httpBench) runConn(i int, dialed *sync.WaitGroup) {
	defer h.wg.Done()
	first, hadConn := true, false
	addr, src := h.o.target(i)
	sent := newRing(h.pipeline)
	p := h.startPace(i)
	d := net.Dialer{Timeout: h.o.timeout, Control: loadgen.BindNoPort}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	backoff := 10 * time.Millisecond
	for !h.stopping.Load() && h.ctx.Err() == nil {
		nc, err := d.DialContext(h.ctx, "tcp", addr)
		if first {
			first = false
			dialed.Done()
		}
		if err != nil {
			if h.ctx.Err() != nil {
				return
			}
			h.failed.Add(1)
			h.errs.Add("dial:"+loadgen.Kind(err), 1)
			select {
			case <-time.After(backoff):
			case <-h.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		if hadConn {
			h.reconnects.Add(1)
		}
		hadConn = true
		h.onOpen()
		h.mu.Lock()
		h.conns[i] = nc
		h.mu.Unlock()
		more, reason := h.serve(nc, i, &sent, &p)
		h.mu.Lock()
		delete(h.conns, i)
		h.mu.Unlock()
		nc.Close()
		if sent.n > 0 && reason != "" && !h.stopping.Load() {
			h.errs.Add("http:lost_in_flight", int64(sent.n))
		}
		sent = newRing(h.pipeline)
		h.closedConn(reason)
		if !more {
			return
		}
	}
}

// serve runs requests on nc until it fails, the server closes it, or the
// run stops. more says whether to redial; reason why nc ended ("" for the
// run's own end).
func (h *httpBench) serve(nc net.Conn, i int, sent *ring, p *pace) (more bool, reason string) {
	br := bufio.NewReaderSize(nc, 32<<10)
	for {
		// Top up what is in flight.
		k := 0
		now := h.now()
		for sent.n+k < h.pipeline {
			if h.interval > 0 && now < p.next {
				if sent.n+k > 0 {
					break // read what is in flight meanwhile
				}
				wait := time.Duration(p.next - now)
				select {
				case <-time.After(min(wait, 100*time.Millisecond)):
				case <-h.ctx.Done():
					return false, ""
				}
				if h.stopping.Load() {
					return false, ""
				}
				now = h.now()
				continue
			}
			if !h.mayIssue() {
				break
			}
			if h.interval > 0 {
				p.next = max(p.next+h.interval, now-h.interval)
			}
			k++
		}
		if k > 0 {
			nc.SetWriteDeadline(time.Now().Add(h.o.timeout))
			if _, err := nc.Write(h.batch[:k*len(h.req)]); err != nil {
				h.errs.Add("http:write_"+loadgen.Kind(err), 1)
				return true, loadgen.Kind(err)
			}
			h.sent.Add(int64(k * len(h.req)))
			for range k {
				sent.push(now)
			}
		}
		if sent.n == 0 {
			return false, "" // stopping, or -n used up: this connection is done
		}
		nc.SetReadDeadline(time.Now().Add(h.o.timeout))
		r, err := readResponse(br, h.head)
		h.recvd.Add(r.wire)
		if err != nil {
			if h.stopping.Load() && h.ctx.Err() != nil {
				return false, ""
			}
			kind := loadgen.Kind(err)
			if errors.Is(err, errBadResponse) {
				kind = "bad_response"
			}
			if kind == loadgen.KindEOF {
				kind = "server_closed"
			}
			return true, kind
		}
		h.complete(i, sent.pop(), h.now())
		h.status[min(r.status, 999)].Add(1)
		switch {
		case r.status >= 500:
			h.errs.Add("http:5xx", 1)
		case r.status >= 400:
			h.errs.Add("http:4xx", 1)
		}
		if !r.keepAlive {
			// The server ends the connection after this response: what is
			// still in flight is lost; redial.
			if sent.n > 0 {
				h.errs.Add("http:lost_in_flight", int64(sent.n))
				sent.n = 0
			}
			return true, ""
		}
	}
}

func (h *httpBench) finish(res *loadgen.Result) {
	if h.cancel != nil {
		// Let requests in flight complete, then unblock whatever remains.
		done := make(chan struct{})
		go func() { h.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(min(h.o.timeout, 5*time.Second)):
		}
		h.cancel()
		h.mu.Lock()
		for _, c := range h.conns {
			c.SetDeadline(time.Now())
		}
		h.mu.Unlock()
		<-done
	}
	h.fillResult(res)
	res.Conns.Reconnects = h.reconnects.Load()
	res.BytesSent = h.sent.Load()
	res.BytesReceived = h.recvd.Load()
	res.StatusCodes = map[string]int64{}
	for code := range h.status {
		if n := h.status[code].Load(); n > 0 {
			res.StatusCodes[strconv.Itoa(code)] = n
		}
	}
}
