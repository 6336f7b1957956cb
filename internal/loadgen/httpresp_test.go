package loadgen

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		head   bool
		status int
		keep   bool
		body   int64
		err    error // nil, io.EOF, io.ErrUnexpectedEOF or ErrBadResponse
		rest   string
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", status: 200, keep: true, body: 5, rest: "NEXT"},
		{name: "no reason phrase", in: "HTTP/1.1 204\r\n\r\n", status: 204, keep: true},
		{name: "case-insensitive names", in: "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 2\r\nCONNECTION: Close\r\n\r\nhi", status: 200, keep: false, body: 2},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nX", status: 200, keep: true, body: 12, rest: "X"},
		{name: "chunked with trailers", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", status: 200, keep: true, body: 10},
		{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", status: 200, keep: true, body: 1},
		{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", status: 200, keep: true, body: 1},
		{name: "head ignores length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nNEXT", head: true, status: 200, keep: true, rest: "NEXT"},
		{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", status: 304, keep: true},
		{name: "interim 100 skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", status: 201, keep: true},
		{name: "http/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, keep: false, body: 1},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", status: 200, keep: true, body: 1},
		{name: "read to close", in: "HTTP/1.1 200 OK\r\n\r\nall of this", status: 200, keep: false, body: 11},
		{name: "eof between responses", in: "", err: io.EOF},
		{name: "eof in status line", in: "HTTP/1.1 2", err: io.ErrUnexpectedEOF},
		{name: "eof in body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", status: 200, body: 5, err: io.ErrUnexpectedEOF},
		{name: "eof in chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", status: 200, err: io.ErrUnexpectedEOF},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n\r\n", err: ErrBadResponse},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: ErrBadResponse},
		{name: "status too long", in: "HTTP/1.1 2000 OK\r\n\r\n", err: ErrBadResponse},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: ErrBadResponse},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", err: ErrBadResponse},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", err: ErrBadResponse},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: ErrBadResponse},
		{name: "chunk longer than its size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n", err: ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 64)
			r, err := ReadResponse(br, tt.head)
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && (r.Status != tt.status || r.KeepAlive != tt.keep || r.Body != tt.body) {
				t.Fatalf("got %+v, want status %d keep-alive %v body %d", r, tt.status, tt.keep, tt.body)
			}
			if tt.err == nil {
				rest, _ := io.ReadAll(br)
				if string(rest) != tt.rest {
					t.Fatalf("left %q unread, want %q", rest, tt.rest)
				}
				if want := int64(len(tt.in) - len(tt.rest)); r.Wire != want {
					t.Fatalf("wire = %d, want %d", r.Wire, want)
				}
			}
		})
	}
}

func TestReadResponseLongLine(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", 100)+"\r\n\r\n"), 32)
	if _, err := ReadResponse(br, false); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("a header line over the buffer: err %v, want ErrBadResponse", err)
	}
}

func TestReadResponseAllocs(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
	sr := strings.NewReader(in)
	br := bufio.NewReader(sr)
	n := testing.AllocsPerRun(100, func() {
		sr.Reset(in)
		br.Reset(sr)
		if _, err := ReadResponse(br, false); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("ReadResponse allocates %v times per response, want 0", n)
	}
}

// ReadResponse agrees with net/http on what both accept: the status, the
// body length, and where the next response starts.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nto the end",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ours, err := ReadResponse(bufio.NewReaderSize(strings.NewReader(in), 4096), false)
		if err != nil {
			return // we refuse more than net/http; never the other way round for what a server sends
		}
		resp, herr := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), nil)
		if herr != nil || resp.StatusCode < 200 {
			return // net/http returns interim responses; we skip them
		}
		body, berr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if berr != nil {
			return
		}
		if resp.StatusCode != ours.Status {
			t.Fatalf("status %d, net/http says %d", ours.Status, resp.StatusCode)
		}
		if int64(len(body)) != ours.Body && resp.StatusCode >= 200 {
			t.Fatalf("body %d bytes, net/http read %d", ours.Body, len(body))
		}
	})
}
