package h1

import (
	"fmt"
	"strings"
	"testing"
)

type chunkedTest struct {
	name     string
	in       string
	dec      ChunkedDecoder // limits to use
	data     string         // the decoded body, for valid input
	rest     string         // what follows the body, left unconsumed
	trailers []string       // "name=value" for each trailer field
	err      *Error         // for invalid input
}

var validChunked = []chunkedTest{
	{name: "empty body", in: "0\r\n\r\n"},
	{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "chunks", in: "3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n", data: "abcdef"},
	{name: "hex sizes", in: "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", data: "01234567890123456789"},
	{name: "leading zeros", in: "005\r\nhello\r\n000\r\n\r\n", data: "hello"},
	{name: "CRLF inside data", in: "7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n", data: "0\r\n\r\n\r\n"},
	{name: "extension name", in: "5;name\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "extension token value", in: "5;name=value;other\r\nhello\r\n0;last=1\r\n\r\n", data: "hello"},
	{name: "extension quoted value", in: "5 ; name = \"a \\\"quoted\\\" ;, value\"\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "extension names only", in: "5;a;b=c;d\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "extension name then BWS", in: "5;a ;b\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "extension BWS", in: "5\t;\tn\t=\tv\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "trailers", in: "5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\t z \r\n\r\n", data: "hello", trailers: []string{"X-Sum=abc", "Y=z"}},
	{name: "next request follows", in: "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", rest: "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "body then next request", in: "4\r\nbody\r\n0\r\n\r\nPOST", data: "body", rest: "POST"},
	{name: "line at MaxChunkLine", in: "5;abc\r\nhello\r\n0\r\n\r\n", dec: ChunkedDecoder{MaxChunkLine: 5}, data: "hello"},
	{name: "trailers at MaxTrailerBytes", in: "0\r\nA: b\r\n\r\n", dec: ChunkedDecoder{MaxTrailerBytes: 8}, trailers: []string{"A=b"}},
	{name: "bytes with every value", in: "100\r\n" + allBytes() + "\r\n0\r\n\r\n", data: allBytes()},
}

func allBytes() string {
	var b [256]byte
	for i := range b {
		b[i] = byte(i)
	}
	return string(b[:])
}

var invalidChunked = []chunkedTest{
	{name: "not hex", in: "x\r\n", err: errChunkSize},
	{name: "empty size", in: "\r\n", err: errChunkSize},
	{name: "leading space", in: " 5\r\nhello\r\n0\r\n\r\n", err: errChunkSize},
	{name: "trailing space", in: "5 \r\nhello\r\n0\r\n\r\n", err: errChunkExtension},
	{name: "minus", in: "-5\r\n", err: errChunkSize},
	{name: "plus", in: "+5\r\n", err: errChunkSize},
	{name: "0x prefix", in: "0x5\r\nhello\r\n0\r\n\r\n", err: errChunkSize},
	{name: "size then junk", in: "5g\r\nhello\r\n", err: errChunkSize},
	{name: "overflow", in: "8000000000000000\r\n", err: errChunkSizeOverflow},
	{name: "overflow with leading digits", in: "10000000000000000\r\n", err: errChunkSizeOverflow},
	{name: "bare LF after size", in: "5\nhello\r\n0\r\n\r\n", err: errChunkBareLF},
	{name: "bare LF after extension", in: "5;a=b\nhello\r\n0\r\n\r\n", err: errChunkBareLF},
	{name: "bare LF after data", in: "5\r\nhello\n0\r\n\r\n", err: errChunkBareLF},
	{name: "bare CR in size line", in: "5\rX\nhello\r\n", err: errBareCR},
	{name: "bare CR in extension", in: "5;a\rb\r\nhello\r\n", err: errBareCR},
	{name: "data too long", in: "5\r\nhelloo\r\n0\r\n\r\n", err: errChunkDataEnd},
	{name: "data too short", in: "5\r\nhell\r\n0\r\n\r\n", err: errChunkBareLF}, // the CR is data
	{name: "CR then junk after data", in: "5\r\nhello\rX0\r\n\r\n", err: errChunkDataEnd},
	{name: "empty extension", in: "5;\r\nhello\r\n", err: errChunkExtension},
	{name: "extension without name", in: "5;=v\r\nhello\r\n", err: errChunkExtension},
	{name: "extension without value", in: "5;a=\r\nhello\r\n", err: errChunkExtension},
	{name: "extension two values", in: "5;a=b c\r\nhello\r\n", err: errChunkExtension},
	{name: "extension unterminated quote", in: "5;a=\"b\r\nhello\r\n", err: errChunkExtension},
	{name: "extension NUL", in: "5;a\x00\r\nhello\r\n", err: errChunkExtension},
	{name: "extension name then word", in: "5;a b\r\nhello\r\n", err: errChunkExtension},
	{name: "extension value not a token", in: "5;a=@\r\nhello\r\n", err: errChunkExtension},
	{name: "extension CTL in quoted value", in: "5;a=\"\x01\"\r\nhello\r\n", err: errChunkExtension},
	{name: "extension CTL in quoted pair", in: "5;a=\"\\\x01\"\r\nhello\r\n", err: errChunkExtension},
	{name: "extension junk after quoted value", in: "5;a=\"b\"c\r\nhello\r\n", err: errChunkExtension},
	{name: "syntax error wins over line length", in: "5;=" + strings.Repeat("a", 5000) + "\r\nhello\r\n", err: errChunkExtension},
	{name: "extension trailing space", in: "5;a=b \r\nhello\r\n", err: errChunkExtension},
	{name: "line too long", in: "5;" + strings.Repeat("a", 5000) + "\r\nhello\r\n", err: errChunkLineTooLong},
	{name: "line one over MaxChunkLine", in: "5;abcd\r\nhello\r\n0\r\n\r\n", dec: ChunkedDecoder{MaxChunkLine: 5}, err: errChunkLineTooLong},
	{name: "leading zeros over MaxChunkLine", in: strings.Repeat("0", 4097) + "5\r\nhello\r\n", err: errChunkLineTooLong},
	{name: "bare LF ending trailers", in: "0\r\n\n", err: errChunkBareLF},
	{name: "bare LF after trailer", in: "0\r\nX: y\n\r\n", err: errChunkBareLF},
	{name: "bare CR ending trailers", in: "0\r\n\rX", err: errBareCR},
	{name: "obs-fold trailer", in: "0\r\nX: y\r\n z\r\n\r\n", err: errObsFold},
	{name: "space before colon in trailer", in: "0\r\nX : y\r\n\r\n", err: errSpaceBeforeColon},
	{name: "trailer without colon", in: "0\r\nX\r\n\r\n", err: errMissingColon},
	{name: "NUL in trailer", in: "0\r\nX: \x00\r\n\r\n", err: errValueByte},
	{name: "trailers too large", in: "0\r\nA: bc\r\n\r\n", dec: ChunkedDecoder{MaxTrailerBytes: 8}, err: errTrailerTooLarge},
	{name: "default MaxTrailerBytes", in: "0\r\nA: " + strings.Repeat("b", 8<<10) + "\r\n\r\n", err: errTrailerTooLarge},
	{name: "too much overhead", in: strings.Repeat("1;"+strings.Repeat("a", 4000)+"\r\nx\r\n", 5) + "0\r\n\r\n", err: errChunkOverhead},
}

type chunkedResult struct {
	data     string
	consumed int
	done     bool
	err      error
	trailers []string
}

func (r chunkedResult) String() string {
	return fmt.Sprintf("data %.80q consumed %d done %v err %v trailers %q", r.data, r.consumed, r.done, r.err, r.trailers)
}

// decodeChunked runs a copy of proto over in, delivered in pieces of the
// given sizes (the rest in one piece when sizes run out), the way a
// server does: unconsumed bytes stay in front of the next read.
func decodeChunked(t testing.TB, proto ChunkedDecoder, in []byte, sizes []int) chunkedResult {
	d := proto
	var r chunkedResult
	d.OnTrailer = func(name, value []byte) { r.trailers = append(r.trailers, string(name)+"="+string(value)) }
	var pending []byte
	fed := 0
	for {
		size := len(in) - fed
		if len(sizes) > 0 {
			size, sizes = min(sizes[0], size), sizes[1:]
		}
		pending = append(pending, in[fed:fed+size]...)
		fed += size
		for {
			data, n, done, err := d.Next(pending)
			if n < 0 || n > len(pending) || len(data) > n {
				t.Fatalf("Next(%d bytes) = %d bytes of data, consumed %d", len(pending), len(data), n)
			}
			if len(data) > 0 && &data[len(data)-1] != &pending[n-1] {
				t.Fatalf("data does not end where consumption ends")
			}
			r.data += string(data)
			r.consumed += n
			pending = pending[n:]
			if err == ErrIncomplete {
				if len(data) > 0 || done {
					t.Fatalf("ErrIncomplete with data or done")
				}
				break
			}
			if err != nil {
				r.err = err
				return r
			}
			if done {
				if len(data) > 0 {
					t.Fatalf("done with data")
				}
				r.done = true
				return r
			}
			if len(data) == 0 {
				t.Fatalf("Next returned no data, no error and not done")
			}
		}
		if fed == len(in) {
			return r
		}
	}
}

func checkChunked(t *testing.T, tt chunkedTest, r chunkedResult) {
	t.Helper()
	if tt.err != nil {
		if r.err != tt.err {
			t.Fatalf("%v; want error %v", r, tt.err)
		}
		return
	}
	want := chunkedResult{data: tt.data, consumed: len(tt.in) - len(tt.rest), done: true, trailers: tt.trailers}
	if r.String() != want.String() {
		t.Fatalf("got  %v\nwant %v", r, want)
	}
}

func TestChunkedDecoder(t *testing.T) {
	for _, tests := range [][]chunkedTest{validChunked, invalidChunked} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkChunked(t, tt, decodeChunked(t, tt.dec, []byte(tt.in), nil))
			})
		}
	}
}

// TestChunkedSplit delivers every table body split at every byte, and one
// byte at a time: the outcome must not depend on the split.
func TestChunkedSplit(t *testing.T) {
	for _, tests := range [][]chunkedTest{validChunked, invalidChunked} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := []byte(tt.in)
				for _, k := range splitPoints(len(in)) {
					checkChunked(t, tt, decodeChunked(t, tt.dec, in, []int{k}))
				}
				ones := make([]int, len(in))
				for i := range ones {
					ones[i] = 1
				}
				checkChunked(t, tt, decodeChunked(t, tt.dec, in, ones))
			})
		}
	}
}

// TestChunkedPrefix: a prefix of a body never reports done, and an error
// on a prefix is the error of the whole.
func TestChunkedIncompleteBody(t *testing.T) {
	for _, tt := range validChunked {
		in := []byte(tt.in)
		end := len(in) - len(tt.rest)
		for k := 0; k < end; k++ {
			r := decodeChunked(t, tt.dec, in[:k], nil)
			if r.done || r.err != nil {
				t.Fatalf("%s: prefix %d/%d: %v", tt.name, k, end, r)
			}
		}
	}
}

func TestChunkedDecoderStates(t *testing.T) {
	var d ChunkedDecoder
	in := []byte("3\r\nabc\r\n0\r\n\r\nrest")
	data, n, done, err := d.Next(in)
	if string(data) != "abc" || n != 6 || done || err != nil {
		t.Fatalf("first Next = %q, %d, %v, %v", data, n, done, err)
	}
	data, n, done, err = d.Next(in[6:])
	if len(data) != 0 || n != 7 || !done || err != nil || !d.Done() {
		t.Fatalf("second Next = %q, %d, %v, %v", data, n, done, err)
	}
	if _, n, done, err = d.Next(in[13:]); n != 0 || !done || err != nil {
		t.Fatalf("Next after done = %d, %v, %v", n, done, err)
	}

	// Errors are sticky until Reset, which keeps the limits.
	d = ChunkedDecoder{MaxChunkLine: 3}
	if _, _, _, err = d.Next([]byte("5;ab\r\n")); err != errChunkLineTooLong {
		t.Fatalf("Next = %v", err)
	}
	if _, n, _, err = d.Next([]byte("5\r\nhello")); err != errChunkLineTooLong || n != 0 {
		t.Fatalf("Next after an error = %d, %v", n, err)
	}
	d.Reset()
	if d.MaxChunkLine != 3 || d.Done() {
		t.Fatal("Reset lost the limits or kept the state")
	}
	if data, _, _, err = d.Next([]byte("5\r\nhello")); string(data) != "hello" || err != nil {
		t.Fatalf("Next after Reset = %q, %v", data, err)
	}

	// ErrIncomplete can come with consumed bytes.
	d.Reset()
	if data, n, _, err = d.Next([]byte("1\r\nx\r\n1")); string(data) != "x" || n != 4 || err != nil {
		t.Fatalf("Next = %q, %d, %v", data, n, err)
	}
	if _, n, _, err = d.Next([]byte("\r\n1")); n != 2 || err != ErrIncomplete {
		t.Fatalf("Next = %d, %v; want 2, ErrIncomplete", n, err)
	}
}

// TestChunkedBigSize: a size near the int64 limit is accepted and its
// data streamed as it comes, never buffered.
func TestChunkedBigSize(t *testing.T) {
	var d ChunkedDecoder
	data, n, _, err := d.Next([]byte("7fffffffffffffff\r\nabc"))
	if string(data) != "abc" || n != 21 || err != nil {
		t.Fatalf("Next = %q, %d, %v", data, n, err)
	}
	if d.left != 1<<63-1-3 {
		t.Fatalf("left = %d", d.left)
	}
}
