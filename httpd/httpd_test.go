package httpd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wharf/engine"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer runs cfg on a loopback port and stops it when the test ends.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	if cfg.Engine.Loops == 0 {
		cfg.Engine.Loops = 2
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, a.String()
}

// modes runs f with the same behaviour served natively and as an
// http.Handler: echo the method, path and body.
func modes(t *testing.T, f func(t *testing.T, cfg Config)) {
	t.Run("native", func(t *testing.T) {
		f(t, Config{Native: NativeFunc(func(c *RequestCtx) {
			c.SetHeader("X-Method", string(c.Method()))
			fmt.Fprintf(c, "%s %s %s", c.Method(), c.Path(), c.Body())
		})})
	})
	t.Run("nethttp", func(t *testing.T) {
		f(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return // the server answers a body it refused (400, 413)
			}
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
		})})
	})
}

func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

func TestBasicWithNetHTTPClient(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		s, addr := startServer(t, cfg)
		cl := &http.Client{Timeout: 10 * time.Second}
		for i := range 5 { // keep-alive reuse
			resp, err := cl.Post("http://"+addr+"/p", "text/plain", strings.NewReader(fmt.Sprint("body", i)))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != fmt.Sprintf("POST /p body%d", i) || resp.Header.Get("X-Method") != "POST" {
				t.Fatalf("got %d %q %v", resp.StatusCode, b, resp.Header)
			}
			if resp.Header.Get("Date") == "" || resp.Header.Get("Server") != "wharf" {
				t.Fatalf("missing Date/Server: %v", resp.Header)
			}
		}
		if st := s.Stats(); st.ByStatus[200] != 5 || st.Engine.Accepted != 1 {
			t.Fatalf("200s = %d over %d connections, want 5 over 1 (keep-alive)", st.ByStatus[200], st.Engine.Accepted)
		}
	})
}

func TestPipelining(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		_, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		var req bytes.Buffer
		for i := range 16 {
			fmt.Fprintf(&req, "POST /r%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", i, len(fmt.Sprint(i)), fmt.Sprint(i))
		}
		req.WriteString("GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.Write(req.Bytes())
		for i := range 16 {
			resp, body := readResponse(t, br, "POST")
			if want := fmt.Sprintf("POST /r%d %d", i, i); body != want || resp.StatusCode != 200 {
				t.Fatalf("response %d: %d %q, want %q (in order)", i, resp.StatusCode, body, want)
			}
		}
		resp, body := readResponse(t, br, "GET")
		if body != "GET /last " || !resp.Close {
			t.Fatalf("last: %q close=%v", body, resp.Close)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("connection not closed after Connection: close: %v", err)
		}
	})
}

func TestChunkedRequestBody(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		_, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		parts := []string{"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n", "1;ext=1\r\n \r\n", "5\r\nworld\r\n", "0\r\nTrailer: v\r\n\r\n"}
		for _, p := range parts { // arrives in pieces
			c.Write([]byte(p))
			time.Sleep(5 * time.Millisecond)
		}
		if _, body := readResponse(t, br, "POST"); body != "POST /c hello world" {
			t.Fatalf("got %q", body)
		}
	})
}

func TestExpectContinue(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		_, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		c.Write([]byte("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"))
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("got %q %v, want 100 Continue before the body", line, err)
		}
		br.ReadString('\n')
		c.Write([]byte("data"))
		if _, body := readResponse(t, br, "PUT"); body != "PUT /e data" {
			t.Fatalf("got %q", body)
		}
	})
}

func TestHead(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		_, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		c.Write([]byte("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, body := readResponse(t, br, "HEAD")
		if body != "" || resp.ContentLength != int64(len("HEAD /h ")) {
			t.Fatalf("HEAD: body %q, Content-Length %d", body, resp.ContentLength)
		}
		if _, body := readResponse(t, br, "GET"); body != "GET /g " {
			t.Fatalf("after HEAD: %q (a HEAD body leaked into the stream?)", body)
		}
	})
}

func TestHostileRequests(t *testing.T) {
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"CL and TE together (smuggling)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"conflicting Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
		{"TE obfuscated: chunked not final (RFC 9112 §6.3)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
		{"unknown coding before chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"HTTP/2.0 line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400},
		{"URI too long", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("v", 70000) + "\r\n\r\n", 431},
		{"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"chunked body over the limit", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("fffff\r\n"+strings.Repeat("b", 0xfffff)+"\r\n", 2), 413},
	}
	modes(t, func(t *testing.T, cfg Config) {
		s, addr := startServer(t, cfg)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, br := rawConn(t, addr)
				go c.Write([]byte(tt.req)) // the server may answer before it has read it all
				resp, _ := readResponse(t, br, "GET")
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				if !resp.Close {
					t.Fatal("an error response must close the connection")
				}
			})
		}
		if s.Stats().Rejected != uint64(len(tests)) {
			t.Fatalf("Rejected = %d, want %d", s.Stats().Rejected, len(tests))
		}
	})
}

func TestBodyLimitEdge(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.MaxBodyBytes = 1000
		_, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n%s", strings.Repeat("a", 1000))
		if resp, _ := readResponse(t, br, "POST"); resp.StatusCode != 200 {
			t.Fatalf("body at the limit: %d", resp.StatusCode)
		}
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
		if resp, _ := readResponse(t, br, "POST"); resp.StatusCode != 413 {
			t.Fatalf("body over the limit: %d", resp.StatusCode)
		}
	})
}

func TestSlowlorisCutAtReadHeaderTimeout(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.ReadHeaderTimeout = 300 * time.Millisecond
		s, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("z", 100)
		start := time.Now()
		var werr error
		for i := 0; i < len(head) && werr == nil; i++ {
			_, werr = c.Write([]byte{head[i]})
			time.Sleep(20 * time.Millisecond) // a byte every 20ms: still under way after the timeout
			if time.Since(start) > 3*time.Second {
				break
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("the server answered a trickled head instead of cutting it")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open: slowloris not cut")
		}
		if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
			t.Fatalf("cut after %v, want about ReadHeaderTimeout (300ms)", el)
		}
		if s.Stats().Timeouts != 1 {
			t.Fatalf("Timeouts = %d, want 1", s.Stats().Timeouts)
		}
	})
}

func TestIdleKeepAliveClosed(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.IdleTimeout = 200 * time.Millisecond
		_, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		readResponse(t, br, "GET")
		start := time.Now()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle keep-alive connection: %v, want EOF", err)
		}
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Fatalf("closed after %v, before IdleTimeout", el)
		}
	})
}

func TestStreamingFlushAndChunkedResponse(t *testing.T) {
	step := make(chan struct{})
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		<-step
		io.WriteString(w, "second")
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("TransferEncoding %v, want chunked", resp.TransferEncoding)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first " {
		t.Fatalf("flushed part: %q %v (before the handler finished)", buf, err)
	}
	close(step)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second" {
		t.Fatalf("rest %q", rest)
	}
}

func TestLargeResponseAndBackpressure(t *testing.T) {
	const total = 32 << 20
	var stalled atomic.Int64 // what the handler of /stall managed to write
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for wrote := 0; wrote < total; {
			n, err := w.Write(chunk)
			if err != nil {
				return
			}
			wrote += n
			if r.URL.Path == "/stall" {
				stalled.Store(int64(wrote))
			}
		}
	})})
	// A client that does not read: the handler must block, not buffer 32 MB.
	c, _ := rawConn(t, addr)
	c.Write([]byte("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n"))
	time.Sleep(500 * time.Millisecond)
	if w := stalled.Load(); w >= total/2 {
		t.Fatalf("handler wrote %d MB to a client that reads nothing: no backpressure", w>>20)
	}
	c.Close()

	// A client that reads gets every byte.
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n < total {
		t.Fatalf("read %d of %d bytes: %v", n, total, err)
	}
}

// awaitCancel is a handler that closes started when it runs, then waits
// (up to 10s) for its request's context and closes cancelled when that is
// cancelled.
func awaitCancel() (h http.Handler, started, cancelled chan struct{}) {
	started, cancelled = make(chan struct{}), make(chan struct{})
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	return h, started, cancelled
}

func TestRequestContextCancelledWhenClientLeaves(t *testing.T) {
	h, started, cancelled := awaitCancel()
	_, addr := startServer(t, Config{Handler: h})
	c, _ := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-started
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("Request.Context not cancelled after the client went away")
	}
}

func TestCloseCancelsRunningRequests(t *testing.T) {
	h, started, cancelled := awaitCancel()
	s, addr := startServer(t, Config{Handler: h})
	c, _ := rawConn(t, addr)
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-started
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel the running request's context")
	}
	<-closed
}

func TestServeMuxPatternsAndPanics(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "item ", r.PathValue("id")) })
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) { panic("bug") })
	s, addr := startServer(t, Config{Handler: mux})
	resp, err := http.Get("http://" + addr + "/items/42")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "item 42" {
		t.Fatalf("got %q", b)
	}
	resp, err = http.Post("http://"+addr+"/items/42", "", nil)
	if err != nil || resp.StatusCode != 405 {
		t.Fatalf("POST to a GET pattern: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/boom")
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("panicking handler: %v %v", resp, err)
	}
	resp.Body.Close()
	if s.Stats().Panics != 1 {
		t.Fatal("panic not counted")
	}
}

func TestHijack(t *testing.T) {
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo, starting with bytes sent after the request
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nearly "))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	c.Write([]byte("late"))
	buf := make([]byte, 10)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "early late" {
		t.Fatalf("echo over the hijacked conn: %q %v", buf, err)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s, err := New(Config{Logger: quiet(), Engine: engine.Config{Loops: 2}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "finished")
	})})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Listen("tcp://127.0.0.1:0")
	s.Start()
	busy, bbr := rawConn(t, a.String())
	busy.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-started
	idle, ibr := rawConn(t, a.String())
	idle.Write([]byte("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"))
	readResponse(t, ibr, "GET") // now idle between requests
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection not closed by Shutdown: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, body := readResponse(t, bbr, "GET")
	if body != "finished" || !resp.Close {
		t.Fatalf("in-flight request: %q close=%v", body, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	_, addr := startServer(t, Config{Handlers: 1, QueueSize: 1, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	})})
	defer once.Do(func() { close(release) })
	var brs []*bufio.Reader
	for range 3 {
		c, br := rawConn(t, addr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		brs = append(brs, br)
		time.Sleep(50 * time.Millisecond)
	}
	resp, _ := readResponse(t, brs[2], "GET")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request with 1 handler and a queue of 1: %d, want 503 with Retry-After", resp.StatusCode)
	}
	once.Do(func() { close(release) })
	for _, br := range brs[:2] {
		if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 200 {
			t.Fatalf("queued request: %d", resp.StatusCode)
		}
	}
}

// TestManyKeepAliveConnections holds 10,000 keep-alive connections (1,000
// with -short) and runs two requests on each. The clients run in a child
// process: client and server ends together would exceed the per-process
// descriptor limit (20,000 on the CI machines).
func TestManyKeepAliveConnections(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	modes(t, func(t *testing.T, cfg Config) {
		s, addr := startServer(t, cfg)
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeepAliveClientProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "WHARF_TEST_KA_ADDR="+addr, fmt.Sprintf("WHARF_TEST_KA_N=%d", n))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "keep-alive clients ok") {
			t.Fatalf("client process: %v\n%s", err, out)
		}
		if st := s.Stats(); st.Engine.Accepted != uint64(n) || st.ByStatus[200] != uint64(2*n) {
			t.Fatalf("accepted %d, 200s %d; want %d and %d", st.Engine.Accepted, st.ByStatus[200], n, 2*n)
		}
	})
}

// TestKeepAliveClientProcess is the client side of
// TestManyKeepAliveConnections, run in a child process.
func TestKeepAliveClientProcess(t *testing.T) {
	addr := os.Getenv("WHARF_TEST_KA_ADDR")
	if addr == "" {
		t.Skip("run by TestManyKeepAliveConnections")
	}
	n, _ := strconv.Atoi(os.Getenv("WHARF_TEST_KA_N"))
	conns := make([]net.Conn, 0, n)
	brs := make([]*bufio.Reader, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		brs = append(brs, bufio.NewReader(c))
	}
	for round := range 2 {
		for _, c := range conns {
			fmt.Fprintf(c, "GET /k%d HTTP/1.1\r\nHost: x\r\n\r\n", round)
		}
		for i, br := range brs {
			conns[i].SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("conn %d round %d: %v", i, round, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != fmt.Sprintf("GET /k%d ", round) {
				t.Fatalf("conn %d: %q", i, b)
			}
		}
	}
	t.Logf("%d keep-alive clients ok", n)
}

func TestPipelinedRequestsRunConcurrentlyInOrder(t *testing.T) {
	release := make(chan struct{})
	var fastDone atomic.Int32
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		} else {
			fastDone.Add(1)
		}
		io.WriteString(w, r.URL.Path)
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast1 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast2 HTTP/1.1\r\nHost: x\r\n\r\n"))
	deadline := time.Now().Add(5 * time.Second)
	for fastDone.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("pipelined requests did not run while the first one was blocked")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for _, want := range []string{"/slow", "/fast1", "/fast2"} {
		if _, body := readResponse(t, br, "GET"); body != want {
			t.Fatalf("got %q, want %q (responses out of order)", body, want)
		}
	}
}

func TestHijackRefusedWithPipelinedRequestsBehind(t *testing.T) {
	hijackErr := make(chan error, 1)
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hijack" {
			time.Sleep(50 * time.Millisecond) // let the next request be dispatched
			conn, _, err := w.(http.Hijacker).Hijack()
			hijackErr <- err
			if err == nil {
				conn.Close()
				return
			}
		}
		io.WriteString(w, r.URL.Path)
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET /hijack HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err := <-hijackErr; err == nil {
		t.Fatal("Hijack succeeded though a pipelined request behind it was being served")
	}
	for _, want := range []string{"/hijack", "/next"} {
		if _, body := readResponse(t, br, "GET"); body != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
}

// Response header maps are reused from one response to the next: what one
// handler set must not show in the next response.
func TestResponseHeaderNotCarriedOver(t *testing.T) {
	_, addr := startServer(t, Config{Engine: engine.Config{Loops: 1}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/set":
			w.Header().Set("X-Only", "set")
		case "/big": // more fields than a pooled map keeps
			for i := range 20 {
				w.Header().Set(fmt.Sprintf("X-Big-%d", i), "1")
			}
		}
		io.WriteString(w, r.URL.Path)
	})})
	c, br := rawConn(t, addr)
	for _, p := range []string{"/set", "/plain", "/set", "/set", "/big", "/plain", "/set", "/plain"} {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
		resp, body := readResponse(t, br, "GET")
		if got, want := resp.Header.Get("X-Only"), map[string]string{"/set": "set"}[p]; got != want || body != p {
			t.Fatalf("%s: X-Only %q body %q, want %q %q", p, got, body, want, p)
		}
		if _, ok := resp.Header["X-Big-19"]; ok != (p == "/big") {
			t.Fatalf("%s: X-Big-19 present=%v", p, ok)
		}
	}
}
