package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStatusText(t *testing.T) {
	for code := -1; code <= 1000; code++ {
		if got, want := StatusText(code), http.StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, net/http says %q", code, got, want)
		}
	}
}

func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		minor, status int
		want          string
	}{
		{minor: 1, status: 200, want: "HTTP/1.1 200 OK\r\n"},
		{minor: 0, status: 404, want: "HTTP/1.0 404 Not Found\r\n"},
		{minor: 1, status: 100, want: "HTTP/1.1 100 Continue\r\n"},
		{minor: 1, status: 431, want: "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{minor: 7, status: 505, want: "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
		{minor: 1, status: 299, want: "HTTP/1.1 299 status code 299\r\n"},
		{minor: 0, status: 999, want: "HTTP/1.0 999 status code 999\r\n"},
	}
	for _, tt := range tests {
		if got := string(AppendStatusLine([]byte("x"), tt.minor, tt.status)); got != "x"+tt.want {
			t.Errorf("AppendStatusLine(%d, %d) = %q, want %q", tt.minor, tt.status, got, "x"+tt.want)
		}
	}
	for _, status := range []int{-1, 0, 99, 1000} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendStatusLine(%d) did not panic", status)
				}
			}()
			AppendStatusLine(nil, 1, status)
		}()
	}
	// Every status line is one net/http reads back.
	for status := 100; status <= 999; status++ {
		line := AppendStatusLine(nil, 1, status)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(line, "Content-Length: 0\r\n\r\n"...))), nil)
		if err != nil || resp.StatusCode != status {
			t.Fatalf("net/http reads %q as %v, %v", line, resp, err)
		}
	}
}

func TestDateCache(t *testing.T) {
	var c DateCache
	t0 := time.Date(2026, 3, 1, 12, 30, 45, 0, time.FixedZone("CET", 3600))
	want := func(now time.Time) string { return "Date: " + now.UTC().Format(http.TimeFormat) + "\r\n" }
	tests := []struct {
		name string
		now  time.Time
	}{
		{name: "first", now: t0},
		{name: "same second", now: t0.Add(999 * time.Millisecond)},
		{name: "next second", now: t0.Add(time.Second)},
		{name: "earlier second", now: t0},
		{name: "much later", now: t0.Add(400 * 24 * time.Hour)},
		{name: "year 10000", now: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{name: "back again", now: t0.Add(400 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		if got := string(c.Append([]byte("x"), tt.now)); got != "x"+want(tt.now) {
			t.Errorf("%s: Append = %q, want %q", tt.name, got, "x"+want(tt.now))
		}
	}
	if got := string(c.Append(nil, time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC))); got != "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n" {
		t.Errorf("Append = %q", got)
	}
}

// TestDateCacheConcurrent hammers one cache from several goroutines with
// times around second boundaries; every line must be right for its time.
// Run with -race.
func TestDateCacheConcurrent(t *testing.T) {
	var c DateCache
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 2000; i++ {
				now := base.Add(time.Duration(i*(g+1)) * 250 * time.Millisecond)
				buf = c.Append(buf[:0], now)
				if want := "Date: " + now.Format(http.TimeFormat) + "\r\n"; string(buf) != want {
					t.Errorf("Append(%v) = %q, want %q", now, buf, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestAppendChunk(t *testing.T) {
	pieces := []string{"a", "", "hello, world", strings.Repeat("x", 4096), allBytes(), strings.Repeat("y", 70000)}
	var body []byte
	for _, p := range pieces {
		body = AppendChunk(body, []byte(p))
	}
	if got := AppendChunk([]byte("x"), nil); string(got) != "x" {
		t.Fatalf("AppendChunk(empty) = %q", got)
	}
	body = AppendLastChunk(body)
	want := strings.Join(pieces, "")

	r := decodeChunked(t, ChunkedDecoder{}, body, nil)
	if r.err != nil || !r.done || r.data != want || r.consumed != len(body) {
		t.Fatalf("ChunkedDecoder: %v", r)
	}
	got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
	if err != nil || string(got) != want {
		t.Fatalf("net/http reads %d bytes, %v", len(got), err)
	}
	if !bytes.HasPrefix(body, []byte("1\r\na\r\nc\r\nhello, world\r\n1000\r\n")) || !bytes.HasSuffix(body, []byte("\r\n0\r\n\r\n")) {
		t.Fatalf("unexpected encoding %.60q...", body)
	}
}

func TestValidHeaderNameValue(t *testing.T) {
	names := []struct {
		s  string
		ok bool
	}{
		{s: "Content-Type", ok: true},
		{s: "X-!#$%&'*+.^_`|~09", ok: true},
		{s: "", ok: false},
		{s: "Bad Name", ok: false},
		{s: "Bad:Name", ok: false},
		{s: "Bad\r\nName", ok: false},
		{s: "Caf\xc3\xa9", ok: false},
	}
	for _, tt := range names {
		if got := ValidHeaderName(tt.s); got != tt.ok {
			t.Errorf("ValidHeaderName(%q) = %v", tt.s, got)
		}
	}
	values := []struct {
		s  string
		ok bool
	}{
		{s: "", ok: true},
		{s: "text/html; charset=utf-8", ok: true},
		{s: " \tpadded\t ", ok: true},
		{s: "caf\xc3\xa9", ok: true},
		{s: "a\r\nSet-Cookie: evil=1", ok: false},
		{s: "a\nb", ok: false},
		{s: "a\rb", ok: false},
		{s: "a\x00b", ok: false},
		{s: "a\x7fb", ok: false},
		{s: "a\x1bb", ok: false},
	}
	for _, tt := range values {
		if got := ValidHeaderValue(tt.s); got != tt.ok {
			t.Errorf("ValidHeaderValue(%q) = %v", tt.s, got)
		}
	}
	for c := 0; c < 256; c++ {
		want := c == '\t' || c >= 0x20 && c != 0x7f
		if got := ValidHeaderValue(string([]byte{byte(c)})); got != want {
			t.Errorf("ValidHeaderValue(%#x) = %v", c, got)
		}
	}
}

func TestAppendError(t *testing.T) {
	tests := []struct {
		status int
		reason string
		body   string
	}{
		{status: 400, reason: "obs-fold header", body: "400 Bad Request: obs-fold header\n"},
		{status: 431, reason: "", body: "431 Request Header Fields Too Large\n"},
		{status: 599, reason: "x", body: "599: x\n"},
		{status: 400, reason: "a\r\nSet-Cookie: evil=1", body: "400 Bad Request: a??Set-Cookie: evil=1\n"},
	}
	for _, tt := range tests {
		raw := AppendError([]byte("junk"), tt.status, tt.reason)[4:]
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("net/http cannot read %q: %v", raw, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case resp.StatusCode != tt.status:
			t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
		case !resp.Close:
			t.Errorf("%q does not close the connection", raw)
		case resp.Header.Get("Content-Type") != "text/plain; charset=utf-8":
			t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
		case resp.Header.Get("Set-Cookie") != "":
			t.Errorf("reason split the response: %q", raw)
		case string(body) != tt.body || resp.ContentLength != int64(len(tt.body)):
			t.Errorf("body %q (Content-Length %d), want %q", body, resp.ContentLength, tt.body)
		}
	}
}

func TestAppendChunkHeader(t *testing.T) {
	data := []byte("hello, chunk")
	whole := AppendChunk(nil, data)
	split := append(append(AppendChunkHeader(nil, int64(len(data))), data...), '\r', '\n')
	if string(whole) != string(split) {
		t.Fatalf("AppendChunkHeader+data = %q, AppendChunk = %q", split, whole)
	}
}
