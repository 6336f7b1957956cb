package h1

import (
	"testing"
	"time"
)

// TestAllocs guards the zero-allocation paths an event loop relies on.
func TestAllocs(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("allocation counts are meaningless under -race and -cover")
	}
	body := []byte("5;ext=\"v\"\r\nhello\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n")
	tests := []struct {
		name string
		run  func(t *testing.T) func()
	}{
		{name: "ParseRequest browser", run: parseRun(browserRequest, nil)},
		{name: "ParseRequest minimal", run: parseRun(head("GET / HTTP/1.1", "Host: x"), nil)},
		{name: "ParseRequest incomplete", run: parseRun(browserRequest[:300], ErrIncomplete)},
		{name: "ParseRequest rejected", run: parseRun(head("POST / HTTP/1.1", "Host: x", "Content-Length: 1", "Transfer-Encoding: chunked"), errTEAndCL)},
		{name: "ParseRequest IPv6 and absolute-form", run: parseRun(head("GET http://[fe80::1%25eth0]:80/x HTTP/1.1", "Host: [::ffff:1.2.3.4]"), nil)},
		{name: "ChunkedDecoder.Next", run: func(t *testing.T) func() {
			var d ChunkedDecoder
			return func() {
				d.Reset()
				for in := body; ; {
					_, n, done, err := d.Next(in)
					if err != nil {
						t.Fatal(err)
					}
					if in = in[n:]; done {
						return
					}
				}
			}
		}},
		{name: "DateCache.Append", run: func(t *testing.T) func() {
			var c DateCache
			now := time.Now()
			buf := c.Append(make([]byte, 0, 64), now)
			return func() { buf = c.Append(buf[:0], now) }
		}},
		{name: "AppendStatusLine", run: func(t *testing.T) func() {
			buf := make([]byte, 0, 64)
			return func() { buf = AppendStatusLine(buf[:0], 1, 200) }
		}},
		{name: "Request.Get", run: func(t *testing.T) func() {
			var req Request
			if _, err := ParseRequest([]byte(browserRequest), &req, Limits{}); err != nil {
				t.Fatal(err)
			}
			return func() {
				if req.Get("cookie") == nil {
					t.Fatal("no cookie")
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.run(t)
			f() // warm up: grow buffers
			if n := testing.AllocsPerRun(100, f); n != 0 {
				t.Fatalf("%v allocations per run, want 0", n)
			}
		})
	}
}

func parseRun(in string, want error) func(t *testing.T) func() {
	return func(t *testing.T) func() {
		var req Request
		buf := []byte(in)
		return func() {
			if _, err := ParseRequest(buf, &req, Limits{}); err != want {
				t.Fatalf("ParseRequest = %v, want %v", err, want)
			}
		}
	}
}
