package httpd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"wharf/internal/testkit"
)

// An error answered by the server (400, 413) to a pipelined request must
// come after the responses to the requests before it, then the connection
// closes.
func TestErrorResponseAfterPipelinedResponses(t *testing.T) {
	tests := []struct {
		name   string
		bad    string
		status int
	}{
		{"400 missing Host", "GET /bad HTTP/1.1\r\n\r\n", 400},
		{"413 Content-Length over the limit", "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			s, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					<-release
				}
				io.WriteString(w, r.URL.Path)
			})})
			c, br := rawConn(t, addr)
			c.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n" + tt.bad))
			// The bad request is parsed while /slow still runs.
			waitFor(t, "the bad request to be rejected", func() bool { return s.Stats().Rejected == 1 })
			close(release)
			for _, want := range []string{"/slow", "/fast"} {
				resp, body := readResponse(t, br, "GET")
				if resp.StatusCode != 200 || body != want {
					t.Fatalf("got %d %q, want 200 %q: the error overtook an earlier response", resp.StatusCode, body, want)
				}
			}
			resp, _ := readResponse(t, br, "GET")
			if resp.StatusCode != tt.status || !resp.Close {
				t.Fatalf("last response %d close=%v, want %d and Connection: close", resp.StatusCode, resp.Close, tt.status)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the error response: %v, want EOF", err)
			}
		})
	}
}

// A handler that declares a Content-Length and writes less must not leave
// the connection open: the client would read the next response as body.
func TestShortBodyClosesConnection(t *testing.T) {
	for _, flush := range []bool{false, true} {
		name := map[bool]string{false: "buffered", true: "flushed"}[flush]
		t.Run(name, func(t *testing.T) {
			s, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/short" {
					w.Header().Set("Content-Length", "10")
					io.WriteString(w, "hello")
					if flush {
						w.(http.Flusher).Flush()
					}
					return
				}
				io.WriteString(w, "next")
			})})
			c, br := rawConn(t, addr)
			c.Write([]byte("GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if string(b) != "hello" || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("body %q, %v; want \"hello\" cut by the close (unexpected EOF)", b, err)
			}
			if got := s.Stats().ShortBodies; got != 1 {
				t.Fatalf("Stats.ShortBodies = %d, want 1", got)
			}
		})
	}
}

// Header keys set on the map directly, in any case, are still the
// server's to write when the server owns them.
func TestNonCanonicalServerHeaders(t *testing.T) {
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["content-length"] = []string{"5"}
		h["TRANSFER-encoding"] = []string{"chunked"}
		h["connection"] = []string{"keep-alive, x"}
		h["trailer"] = []string{"X-T"}
		io.WriteString(w, "hello")
	})})
	c, br := rawConn(t, addr)
	for range 2 { // the connection stays usable
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, body := readResponse(t, br, "GET")
		if body != "hello" || resp.ContentLength != 5 || len(resp.TransferEncoding) != 0 {
			t.Fatalf("body %q Content-Length %d Transfer-Encoding %v, want \"hello\", 5, none", body, resp.ContentLength, resp.TransferEncoding)
		}
		for k := range resp.Header {
			switch strings.ToLower(k) {
			case "transfer-encoding", "trailer":
				t.Fatalf("server-owned header %q passed through: %v", k, resp.Header)
			}
		}
		if n := len(resp.Header.Values("Content-Length")); n != 1 {
			t.Fatalf("%d Content-Length fields, want 1: %v", n, resp.Header)
		}
	}
}

func TestNativeSetHeaderRefusesServerHeaders(t *testing.T) {
	ctx := &RequestCtx{}
	for _, name := range []string{"content-length", "TRANSFER-encoding", "Connection", "dAtE", "server"} {
		if ctx.SetHeader(name, "1") {
			t.Errorf("SetHeader(%q) accepted a server-owned header", name)
		}
	}
	if !ctx.SetHeader("X-Ok", "1") {
		t.Error("SetHeader(X-Ok) refused")
	}
	ctx.hdr = ctx.hdr[:0]
	if n := testing.AllocsPerRun(100, func() {
		ctx.SetHeader("X-Request-Id", "abc")
		ctx.SetHeader("TRANSFER-ENCODING", "chunked")
		ctx.hdr = ctx.hdr[:0]
	}); n != 0 {
		t.Fatalf("SetHeader allocates %v times per call pair, want 0", n)
	}
}

// Close stops at once and reports no error for the connections it had to
// cut; called while a graceful Shutdown waits for a stuck request, it
// forces that Shutdown and returns once the server has stopped.
func TestCloseReturnsShutdownResult(t *testing.T) {
	h, started, _ := awaitCancel()
	s, err := New(Config{Logger: quiet(), Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Listen("tcp://127.0.0.1:0")
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, _ := rawConn(t, a.String())
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	waitFor(t, "Shutdown to begin", func() bool { return s.stopping.Load() })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Close returned before the server stopped")
	}
	select {
	case err := <-shut:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Shutdown interrupted by Close returned %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not force the graceful Shutdown under way")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

var waitFor = testkit.Eventually

func TestConnectionCaps(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	tests := []struct {
		name    string
		cfg     Config
		refused func(Stats) uint64
		status  int // what the refused connection reads: a 503, or nothing (0)
	}{
		{"MaxConns", Config{Handler: hello, MaxConns: 2}, func(st Stats) uint64 { return st.RefusedConns }, 0},
		{"MaxConnsPerIP", Config{Handler: hello, MaxConnsPerIP: 2}, func(st Stats) uint64 { return st.RefusedPerIP }, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := startServer(t, tt.cfg)
			var held []net.Conn
			for range 2 {
				c, br := rawConn(t, addr)
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 200 {
					t.Fatalf("connection under the cap: %d", resp.StatusCode)
				}
				held = append(held, c)
			}
			c, br := rawConn(t, addr)
			c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			if tt.status != 0 {
				resp, _ := readResponse(t, br, "GET")
				if resp.StatusCode != tt.status || !resp.Close {
					t.Fatalf("connection over the cap: %d close=%v, want %d and close", resp.StatusCode, resp.Close, tt.status)
				}
			}
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("connection over the cap was served")
			}
			if n := tt.refused(s.Stats()); n != 1 {
				t.Fatalf("refusals counted %d, want 1", n)
			}
			held[0].Close() // frees a slot
			waitFor(t, "a slot to free", func() bool {
				c, br := rawConn(t, addr)
				defer c.Close()
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				resp, err := http.ReadResponse(br, nil)
				return err == nil && resp.StatusCode == 200
			})
		})
	}
}
