package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Response is what ReadResponse learns of one response.
type Response struct {
	Status    int
	KeepAlive bool  // the connection may carry the next response
	Body      int64 // body bytes read and discarded
	Wire      int64 // bytes read in all (head, chunk framing and body)
}

// ReadResponse reads one HTTP/1.x response from br and discards its body:
// framed by Content-Length, by chunked transfer coding (extensions and
// trailers skipped), or, for neither, by the end of the connection. head
// says the request was HEAD (no body whatever the headers say). 1xx
// interim responses are skipped, except 101 which is returned. It allocates
// nothing for well-formed responses whose lines fit br's buffer.
//
// net/http.ReadResponse would do, but allocates a header map per response,
// which a load generator pays on every request; this parser reads only the
// three headers framing depends on.
func ReadResponse(br *bufio.Reader, head bool) (Response, error) {
	var r Response
	for {
		line, err := readLine(br, &r.Wire)
		if err != nil {
			return r, err
		}
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return r, fmt.Errorf("%w: status line %q", ErrBadResponse, clip(line))
		}
		minor := line[7]
		code, ok := atoi3(line[9:12])
		if !ok || (len(line) > 12 && line[12] != ' ') {
			return r, fmt.Errorf("%w: status line %q", ErrBadResponse, clip(line))
		}
		r.Status = code
		r.KeepAlive = minor != '0'
		chunked, length := false, int64(-1)
		for {
			h, err := readLine(br, &r.Wire)
			if err != nil {
				return r, err
			}
			if len(h) == 0 {
				break
			}
			name, value, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				return r, fmt.Errorf("%w: header line %q", ErrBadResponse, clip(h))
			}
			value = bytes.TrimSpace(value)
			switch {
			case asciiEqualFold(name, "content-length"):
				n, ok := parseUint(value, 10)
				if !ok || (length >= 0 && n != length) {
					return r, fmt.Errorf("%w: Content-Length %q", ErrBadResponse, clip(value))
				}
				length = n
			case asciiEqualFold(name, "transfer-encoding"):
				// The last coding decides the framing (RFC 9112 §6.3).
				codings := bytes.Split(value, []byte(","))
				chunked = asciiEqualFold(bytes.TrimSpace(codings[len(codings)-1]), "chunked")
			case asciiEqualFold(name, "connection"):
				for _, t := range bytes.Split(value, []byte(",")) {
					t = bytes.TrimSpace(t)
					switch {
					case asciiEqualFold(t, "close"):
						r.KeepAlive = false
					case asciiEqualFold(t, "keep-alive"):
						r.KeepAlive = r.KeepAlive || minor == '0'
					}
				}
			}
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // interim response; the real one follows
		}
		switch {
		case head || code == 204 || code == 304 || code < 200:
			return r, nil
		case chunked:
			err := readChunked(br, &r)
			return r, err
		case length >= 0:
			n, err := br.Discard(int(length))
			r.Body += int64(n)
			r.Wire += int64(n)
			if err != nil {
				return r, eofIsUnexpected(err)
			}
			return r, nil
		}
		// Neither: the body runs to the end of the connection.
		r.KeepAlive = false
		for {
			n, err := br.Discard(br.Size())
			r.Body += int64(n)
			r.Wire += int64(n)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return r, nil
				}
				return r, err
			}
		}
	}
}

// readChunked discards a chunked body and its trailers.
func readChunked(br *bufio.Reader, r *Response) error {
	for {
		line, err := readLine(br, &r.Wire)
		if err != nil {
			return eofIsUnexpected(err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		line = bytes.TrimSpace(line)
		size, ok := parseUint(line, 16)
		if !ok {
			return fmt.Errorf("%w: chunk size %q", ErrBadResponse, clip(line))
		}
		if size == 0 {
			for { // trailers, up to the empty line
				t, err := readLine(br, &r.Wire)
				if err != nil {
					return eofIsUnexpected(err)
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		n, err := br.Discard(int(size))
		r.Body += int64(n)
		r.Wire += int64(n)
		if err != nil {
			return eofIsUnexpected(err)
		}
		crlf, err := readLine(br, &r.Wire)
		if err != nil {
			return eofIsUnexpected(err)
		}
		if len(crlf) != 0 {
			return fmt.Errorf("%w: chunk data longer than its size", ErrBadResponse)
		}
	}
}

// readLine returns the next line without its "\r\n" (or bare "\n"),
// valid until the next read from br, and adds its length to wire. A line
// longer than br's buffer is an error.
func readLine(br *bufio.Reader, wire *int64) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*wire += int64(len(line))
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrBadResponse, br.Size())
		}
		if len(line) > 0 && errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseUint parses a non-empty unsigned number in base 10 or 16 that fits
// 60 bits, without allocating.
func parseUint(b []byte, base int64) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d int64
		switch {
		case '0' <= c && c <= '9':
			d = int64(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = int64(c-'A') + 10
		default:
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

func atoi3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 100
}

// asciiEqualFold compares b with the lower-case ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
