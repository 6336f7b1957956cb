package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"reflect"
	"testing"
	"unsafe"
)

// fuzzLimits turns fuzz integers into Limits: 0 keeps a default, other
// values are small so that the limit paths are reached often.
func fuzzLimits(maxLine, maxHead uint16, maxHeaders uint8) Limits {
	return Limits{MaxRequestLine: int(maxLine % 1024), MaxHeaderBytes: int(maxHead % 4096), MaxHeaders: int(maxHeaders % 16)}
}

// parsed is a comparable rendering of a ParseRequest outcome.
type parsed struct {
	n       int
	err     error
	summary string
	headers string
}

func parse(buf []byte, lim Limits, req *Request) parsed {
	n, err := ParseRequest(buf, req, lim)
	p := parsed{n: n, err: err}
	if err == nil {
		p.summary = summary(req)
		var b bytes.Buffer
		for _, h := range req.Headers {
			b.WriteString(string(h.Name) + "\x00" + string(h.Value) + "\x00")
		}
		p.headers = b.String()
	}
	return p
}

// FuzzParseRequest checks ParseRequest's contract on arbitrary input: no
// panic; n <= len(buf); on success re-parsing buf[:n] gives the same
// request and every slice lies within buf[:n]; and the outcome does not
// depend on how the input arrived: every prefix is ErrIncomplete or, if
// it already holds the head or an error, the same outcome as the whole.
func FuzzParseRequest(f *testing.F) {
	for _, tests := range [][]requestTest{validRequests, invalidRequests} {
		for _, tt := range tests {
			if len(tt.in) < 4096 {
				f.Add([]byte(tt.in), uint16(tt.lim.MaxRequestLine), uint16(tt.lim.MaxHeaderBytes), uint8(tt.lim.MaxHeaders))
			}
		}
	}
	f.Fuzz(func(t *testing.T, buf []byte, maxLine, maxHead uint16, maxHeaders uint8) {
		lim := fuzzLimits(maxLine, maxHead, maxHeaders)
		var req Request
		whole := parse(buf, lim, &req)
		if whole.n < 0 || whole.n > len(buf) || (whole.err != nil) != (whole.n == 0) {
			t.Fatalf("ParseRequest = %d, %v for %d bytes", whole.n, whole.err, len(buf))
		}
		var perr *Error
		if whole.err != nil && whole.err != ErrIncomplete && !errors.As(whole.err, &perr) {
			t.Fatalf("error %v is neither ErrIncomplete nor *Error", whole.err)
		}
		if whole.err == nil {
			checkAliases(t, buf[:whole.n], &req)
			if again := parse(buf[:whole.n:whole.n], lim, &req); again != whole {
				t.Fatalf("re-parsing the head: %+v, first %+v", again, whole)
			}
		}
		// Every prefix when short, a sample when long (the check is
		// quadratic).
		step := 1
		if len(buf) > 512 {
			step = len(buf)/128 + 1
		}
		for k := 0; k < len(buf); k += step {
			p := parse(buf[:k:k], lim, &req)
			switch {
			case p.err == ErrIncomplete && p.n == 0:
			case whole.err == nil && k >= whole.n && p == whole:
			case whole.err != nil && p == whole:
			default:
				t.Fatalf("prefix %d of %d: %+v; whole %+v", k, len(buf), p, whole)
			}
		}
	})
}

// checkAliases fails unless every slice in req lies within head.
func checkAliases(t *testing.T, head []byte, req *Request) {
	t.Helper()
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(head)))
	hi := lo + uintptr(len(head))
	check := func(s []byte) {
		if len(s) == 0 {
			return
		}
		p := uintptr(unsafe.Pointer(&s[0]))
		if p < lo || p+uintptr(len(s)) > hi {
			t.Fatalf("slice %q lies outside the head", s)
		}
	}
	check(req.Method)
	check(req.Target)
	check(req.Proto)
	check(req.Host)
	for _, h := range req.Headers {
		check(h.Name)
		check(h.Value)
	}
}

// FuzzNetHTTP holds ParseRequest to net/http.ReadRequest: whatever we
// accept, net/http must accept too and read the same way, except for the
// documented differences (see the netHTTP notes in the tables). We may be
// stricter; we must not be more lenient by accident.
func FuzzNetHTTP(f *testing.F) {
	for _, tests := range [][]requestTest{validRequests, invalidRequests} {
		for _, tt := range tests {
			if len(tt.in) < 4096 {
				f.Add([]byte(tt.in))
			}
		}
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		var req Request
		n, err := ParseRequest(buf, &req, Limits{})
		if err != nil {
			return
		}
		head := buf[:n]
		if head[0] == '\r' || head[0] == '\n' {
			return // net/http does not skip leading empty lines
		}
		std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			var list bool
			req.Values("Content-Length", func(v []byte) { list = list || bytes.IndexByte(v, ',') >= 0 })
			if list {
				return // net/http rejects even identical Content-Length lists
			}
			t.Fatalf("we accept %q, net/http does not: %v", head, err)
		}
		ours, theirs := views(&req, std)
		if req.Minor == 1 && string(req.Proto) != "HTTP/1.1" {
			ours.Minor = theirs.Minor // HTTP/1.x, x > 1
		}
		if req.Form == AuthorityForm {
			theirs.Host = ours.Host // net/http does not set Host for CONNECT
		}
		if !reflect.DeepEqual(ours, theirs) {
			t.Fatalf("%q:\nours     %+v\nnet/http %+v", head, ours, theirs)
		}
	})
}

// FuzzChunked checks ChunkedDecoder on arbitrary input: no panic; data
// is never more than the input; the outcome does not depend on how the
// input is split; and a body we decode, net/http's chunked reader decodes
// to the same bytes when it accepts it at all.
func FuzzChunked(f *testing.F) {
	for _, tests := range [][]chunkedTest{validChunked, invalidChunked} {
		for _, tt := range tests {
			if len(tt.in) < 4096 {
				f.Add([]byte(tt.in), []byte{1, 3, 7}, uint16(tt.dec.MaxChunkLine), uint16(tt.dec.MaxTrailerBytes))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in, splits []byte, maxLine, maxTrailer uint16) {
		proto := ChunkedDecoder{MaxChunkLine: int(maxLine % 512), MaxTrailerBytes: int(maxTrailer % 1024)}
		whole := decodeChunked(t, proto, in, nil)
		if len(whole.data) > whole.consumed || whole.consumed > len(in) {
			t.Fatalf("%d bytes of data from %d consumed of %d", len(whole.data), whole.consumed, len(in))
		}
		sizes := make([]int, len(splits))
		for i, s := range splits {
			sizes[i] = int(s)
		}
		if split := decodeChunked(t, proto, in, sizes); split.String() != whole.String() {
			t.Fatalf("split %v: %v\nwhole: %v", sizes, split, whole)
		}
		ones := make([]int, min(len(in), 300))
		for i := range ones {
			ones[i] = 1
		}
		if split := decodeChunked(t, proto, in, ones); split.String() != whole.String() {
			t.Fatalf("byte by byte: %v\nwhole: %v", split, whole)
		}
		if whole.done {
			if end := decodeChunked(t, proto, in[:whole.consumed], nil); end.String() != whole.String() {
				t.Fatalf("the bytes after the body changed the result: %v, whole %v", end, whole)
			}
			std, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
			if err == nil && string(std) != whole.data {
				t.Fatalf("net/http decodes %q, we decode %q", std, whole.data)
			}
		}
	})
}
