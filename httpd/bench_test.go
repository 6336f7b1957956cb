package httpd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"wharf/engine"
)

// The benchmarks run a server on loopback with one loop and one client
// connection, so they measure the server's per-request cost plus the
// loopback round trip; allocations are the server's and the client's
// (the client side is a bufio.Reader and a byte scan: it allocates
// nothing per request).
//
//	go test ./httpd -run XXX -bench . -benchmem

// benchServer starts cfg with one loop and returns a connected client.
func benchServer(b *testing.B, cfg Config) (net.Conn, *bufio.Reader) {
	b.Helper()
	cfg.Logger = quiet()
	cfg.Engine = engine.Config{Loops: 1}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	a, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", a.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return c, bufio.NewReaderSize(c, 256<<10)
}

// skipResponse reads one response with a Content-Length body, without
// allocating.
func skipResponse(b *testing.B, br *bufio.Reader) {
	cl := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(line) <= 2 {
			break
		}
		const k = "Content-Length: "
		if len(line) > len(k) && string(line[:len(k)]) == k {
			cl = 0
			for _, d := range line[len(k) : len(line)-2] {
				cl = cl*10 + int(d-'0')
			}
		}
	}
	if cl < 0 {
		b.Fatal("response without Content-Length")
	}
	if _, err := br.Discard(cl); err != nil {
		b.Fatal(err)
	}
}

var benchHello = []byte("Hello, World!")

func benchRoundTrips(b *testing.B, cfg Config, req []byte, depth int) {
	c, br := benchServer(b, cfg)
	batch := make([]byte, 0, len(req)*depth)
	for range depth {
		batch = append(batch, req...)
	}
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		n := min(depth, b.N-i)
		if _, err := c.Write(batch[:n*len(req)]); err != nil {
			b.Fatal(err)
		}
		for range n {
			skipResponse(b, br)
		}
	}
}

func nativeHello() Config {
	return Config{Native: NativeFunc(func(c *RequestCtx) {
		c.SetContentType("text/plain")
		c.Write(benchHello)
	})}
}

func adapterHello() Config {
	return Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(benchHello)
	})}
}

// adapterEcho reads the body and answers its length.
func adapterEcho() Config {
	return Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, n)
	})}
}

func nativeEcho() Config {
	return Config{Native: NativeFunc(func(c *RequestCtx) {
		c.SetContentType("text/plain")
		c.Write(benchHello[:len(c.Body())%len(benchHello)])
	})}
}

const benchGet = "GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"

func benchPost(size int) []byte {
	return []byte(fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s", size, strings.Repeat("b", size)))
}

func BenchmarkNativeGet(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", depth), func(b *testing.B) {
			benchRoundTrips(b, nativeHello(), []byte(benchGet), depth)
		})
	}
}

func BenchmarkAdapterGet(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", depth), func(b *testing.B) {
			benchRoundTrips(b, adapterHello(), []byte(benchGet), depth)
		})
	}
}

func BenchmarkNativePost(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			benchRoundTrips(b, nativeEcho(), benchPost(size), 1)
		})
	}
}

func BenchmarkAdapterPost(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 512 << 10} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			benchRoundTrips(b, adapterEcho(), benchPost(size), 1)
		})
	}
}

// BenchmarkAdapterPostUnread: the handler ignores the body, which the
// server discards.
func BenchmarkAdapterPostUnread(b *testing.B) {
	b.Run("body=1024", func(b *testing.B) {
		benchRoundTrips(b, adapterHello(), benchPost(1<<10), 1)
	})
}
