package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

var benchRequests = []struct {
	name string
	in   string
}{
	{name: "minimal", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "browser", in: browserRequest},
}

// BenchmarkParseRequest parses a head into a reused Request, as a server's
// event loop does.
func BenchmarkParseRequest(b *testing.B) {
	for _, bb := range benchRequests {
		b.Run(bb.name, func(b *testing.B) {
			buf := []byte(bb.in)
			var req Request
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := ParseRequest(buf, &req, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNetHTTPReadRequest is the same work for net/http: ReadRequest
// over a bufio.Reader reset onto the same bytes each time.
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	for _, bb := range benchRequests {
		b.Run(bb.name, func(b *testing.B) {
			buf := []byte(bb.in)
			rd := bytes.NewReader(buf)
			br := bufio.NewReader(rd)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				rd.Reset(buf)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseRequestIncomplete measures the rescan cost when a head
// arrives in pieces: parse every 64-byte prefix, then the whole.
func BenchmarkParseRequestIncomplete(b *testing.B) {
	buf := []byte(browserRequest)
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for k := 64; k < len(buf); k += 64 {
			if _, err := ParseRequest(buf[:k], &req, Limits{}); err != ErrIncomplete {
				b.Fatal(err)
			}
		}
		if _, err := ParseRequest(buf, &req, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecoder(b *testing.B) {
	for _, bb := range []struct {
		name string
		size int
	}{{name: "16B", size: 16}, {name: "1KiB", size: 1024}, {name: "16KiB", size: 16384}} {
		size := bb.size
		var body []byte
		chunk := []byte(strings.Repeat("x", size))
		for range 64 {
			body = AppendChunk(body, chunk)
		}
		body = AppendLastChunk(body)
		b.Run(bb.name, func(b *testing.B) {
			var d ChunkedDecoder
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				d.Reset()
				for in := body; ; {
					_, n, done, err := d.Next(in)
					if err != nil {
						b.Fatal(err)
					}
					if in = in[n:]; done {
						break
					}
				}
			}
		})
	}
}

func BenchmarkDateCache(b *testing.B) {
	var c DateCache
	now := time.Now()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Append(buf[:0], now)
	}
}
