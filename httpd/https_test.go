package httpd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"wharf/engine"
	"wharf/internal/tlstest"
)

// startHTTPS runs cfg over TLS on a loopback port.
func startHTTPS(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	cfg.TLS = tlstest.ServerConfig()
	return startServer(t, cfg)
}

func httpsClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: tlstest.Roots()},
		ForceAttemptHTTP2: true, // offers h2 too: the server must pick http/1.1
	}}
}

// TestHTTPS: net/http's client over TLS, on both engine kinds: r.TLS is
// set (ALPN http/1.1, the server name), keep-alive reuses the connection,
// a large body streams, and the handshake is counted.
func TestHTTPS(t *testing.T) {
	for _, k := range []engine.Kind{engine.Reactor, engine.Goroutine} {
		t.Run(k.String(), func(t *testing.T) {
			big := strings.Repeat("0123456789", 200000)
			s, addr := startHTTPS(t, Config{Engine: engine.Config{Kind: k}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.TLS == nil {
					http.Error(w, "no r.TLS", 500)
					return
				}
				if r.URL.Path == "/big" {
					io.WriteString(w, big)
					return
				}
				fmt.Fprintf(w, "%s %s %s %v", r.TLS.NegotiatedProtocol, r.TLS.ServerName, tls.VersionName(r.TLS.Version), r.TLS.HandshakeComplete)
			})})
			_, port, _ := net.SplitHostPort(addr)
			c := httpsClient()
			for range 3 {
				resp, err := c.Get("https://localhost:" + port + "/")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := "http/1.1 localhost TLS 1.3 true"; string(b) != want {
					t.Fatalf("got %q, want %q", b, want)
				}
				if resp.Proto != "HTTP/1.1" {
					t.Fatalf("response protocol %s", resp.Proto)
				}
			}
			resp, err := c.Get("https://localhost:" + port + "/big")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != big {
				t.Fatalf("big body: %d bytes, want %d", len(b), len(big))
			}
			if st, ok := s.TLSStats(); !ok || st.Handshakes != 1 {
				t.Errorf("TLSStats = %+v, %v: want one handshake (keep-alive)", st, ok)
			}
		})
	}
}

// TestHTTPSPipeliningAndErrors: pipelined requests over TLS come back in
// order, and an error response followed by a close (a malformed request)
// reaches the client before the close.
func TestHTTPSPipeliningAndErrors(t *testing.T) {
	_, addr := startHTTPS(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})})
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: tlstest.Roots(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req strings.Builder
	for i := range 10 {
		fmt.Fprintf(&req, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	req.WriteString("BROKEN\r\n\r\n")
	c.Write([]byte(req.String()))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 10 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != fmt.Sprintf("/%d", i) {
			t.Fatalf("response %d: %q", i, b)
		}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the error response: %v", err)
	}
	if resp.StatusCode != 400 {
		t.Fatalf("malformed request answered %d, want 400", resp.StatusCode)
	}
	io.ReadAll(resp.Body)
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Fatalf("after the 400: %q, %v; want io.EOF (close_notify, then close)", rest, err)
	}
}

// TestHTTPToHTTPSPort: plain HTTP to the TLS port gets net/http's 400 and
// a close, and is counted.
func TestHTTPToHTTPSPort(t *testing.T) {
	s, addr := startHTTPS(t, Config{Handler: http.NotFoundHandler()})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "HTTP request to an HTTPS server") {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if st, _ := s.TLSStats(); st.Failed.NotTLS != 1 {
		t.Errorf("TLSStats = %+v, want one NotTLS", st)
	}
}

// TestHTTPSSlowHandshake: a client that never finishes its handshake is
// cut at ReadHeaderTimeout.
func TestHTTPSSlowHandshake(t *testing.T) {
	s, addr := startHTTPS(t, Config{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00}) // a record header, then nothing
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("read: %v (want the server's close)", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cut after %v", d)
	}
	eventually(t, "timeout counted", func() bool { st, _ := s.TLSStats(); return st.Failed.Timeout == 1 })
}

// TestCurlHTTPS: curl verifies the certificate, negotiates http/1.1 by
// ALPN, and gets the body; skipped without curl.
func TestCurlHTTPS(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	ca := tlstest.CAFile(t)
	_, addr := startHTTPS(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.TLS.NegotiatedProtocol)
	})})
	_, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(curl, "-sS", "-v", "--cacert", ca, "https://localhost:"+port+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if o := string(out); !strings.Contains(o, "hello over http/1.1") || !strings.Contains(o, "ALPN: server accepted http/1.1") {
		t.Fatalf("curl output:\n%s", o)
	}
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
