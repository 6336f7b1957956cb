package h1

import (
	"strconv"
	"sync/atomic"
	"time"
)

// statusText holds the reason phrases, the same as net/http.StatusText
// (which this package does not import, to stay light).
var statusText = map[int]string{
	100: "Continue",
	101: "Switching Protocols",
	102: "Processing",
	103: "Early Hints",

	200: "OK",
	201: "Created",
	202: "Accepted",
	203: "Non-Authoritative Information",
	204: "No Content",
	205: "Reset Content",
	206: "Partial Content",
	207: "Multi-Status",
	208: "Already Reported",
	226: "IM Used",

	300: "Multiple Choices",
	301: "Moved Permanently",
	302: "Found",
	303: "See Other",
	304: "Not Modified",
	305: "Use Proxy",
	307: "Temporary Redirect",
	308: "Permanent Redirect",

	400: "Bad Request",
	401: "Unauthorized",
	402: "Payment Required",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	407: "Proxy Authentication Required",
	408: "Request Timeout",
	409: "Conflict",
	410: "Gone",
	411: "Length Required",
	412: "Precondition Failed",
	413: "Request Entity Too Large",
	414: "Request URI Too Long",
	415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable",
	417: "Expectation Failed",
	418: "I'm a teapot",
	421: "Misdirected Request",
	422: "Unprocessable Entity",
	423: "Locked",
	424: "Failed Dependency",
	425: "Too Early",
	426: "Upgrade Required",
	428: "Precondition Required",
	429: "Too Many Requests",
	431: "Request Header Fields Too Large",
	451: "Unavailable For Legal Reasons",

	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
	505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates",
	507: "Insufficient Storage",
	508: "Loop Detected",
	510: "Not Extended",
	511: "Network Authentication Required",
}

// statusLines[minor][code-100] is the precomputed status line for a code
// with a known reason phrase, "" otherwise.
var statusLines [2][500]string

func init() {
	for code, text := range statusText {
		for minor := range statusLines {
			statusLines[minor][code-100] = "HTTP/1." + strconv.Itoa(minor) + " " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
}

// StatusText returns the reason phrase for code, as net/http.StatusText
// does, or "" if the code is unknown.
func StatusText(code int) string {
	if code < 100 || code > 599 {
		return ""
	}
	if l := statusLines[1][code-100]; l != "" {
		return l[len("HTTP/1.1 123 ") : len(l)-2]
	}
	return ""
}

// AppendStatusLine appends a status line, "HTTP/1.1 200 OK\r\n", to dst
// and returns the extended slice. minor 0 writes HTTP/1.0, anything else
// HTTP/1.1. An unknown code gets the reason "status code N", as net/http
// writes. It panics if code has other than three digits, like
// net/http.ResponseWriter.WriteHeader: that is a bug in the caller.
// It allocates only if dst must grow.
func AppendStatusLine(dst []byte, minor int, status int) []byte {
	if status < 100 || status > 999 {
		panic("h1: invalid status code " + strconv.Itoa(status))
	}
	if minor != 0 {
		minor = 1
	}
	if status <= 599 {
		if l := statusLines[minor][status-100]; l != "" {
			return append(dst, l...)
		}
	}
	dst = append(dst, "HTTP/1.1 "...)
	if minor == 0 {
		dst[len(dst)-2] = '0'
	}
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, " status code "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	return append(dst, "\r\n"...)
}

// dateLine is a formatted "Date: ...\r\n" line for one second.
type dateLine struct {
	sec  int64
	line [len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")]byte
}

// DateCache formats the Date response field (RFC 9110 §6.6.1, in the
// IMF-fixdate form of §5.6.7) at most once per second. The zero value is
// ready to use. It is safe for concurrent use by any number of
// goroutines: the current line is behind an atomic pointer, replaced (one
// small allocation) when a later second is asked for.
type DateCache struct {
	cur atomic.Pointer[dateLine]
}

// Append appends "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n" for now to dst
// and returns the extended slice. Within a second it only copies; it
// allocates only if dst must grow or now starts a new second.
func (c *DateCache) Append(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	cur := c.cur.Load()
	if cur != nil && cur.sec == sec {
		return append(dst, cur.line[:]...)
	}
	d := &dateLine{sec: sec}
	b := append(d.line[:0], "Date: "...)
	b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	b = append(b, "\r\n"...)
	if len(b) != len(d.line) {
		// A year outside 0000-9999 formats longer: do not cache it.
		return append(dst, b...)
	}
	if cur == nil || cur.sec < sec {
		// Lose a race gracefully: another goroutine stored a line for the
		// same or a later second, which is as good.
		c.cur.CompareAndSwap(cur, d)
	}
	return append(dst, d.line[:]...)
}

// AppendChunk appends data as one chunk of the chunked transfer coding
// (RFC 9112 §7.1): its size in hex, CRLF, the data, CRLF. Empty data
// appends nothing, since a zero-size chunk would end the body; use
// AppendLastChunk for that.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(len(data)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, data...)
	return append(dst, '\r', '\n')
}

// AppendChunkHeader appends the size line of a chunk of n > 0 bytes whose
// data the caller sends separately (from a file, say), followed by CRLF.
func AppendChunkHeader(dst []byte, n int64) []byte {
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk and an empty trailer section,
// "0\r\n\r\n", which ends a chunked body.
func AppendLastChunk(dst []byte) []byte {
	return append(dst, "0\r\n\r\n"...)
}

// ValidHeaderName reports whether s is a field name: a non-empty token
// (RFC 9110 §5.1). Use it on names set by handlers before writing them.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether s may be written as a field value
// (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB only. In particular it is
// false for CR, LF and NUL, which would let a handler that echoes client
// input split the response. Leading and trailing whitespace is allowed
// (recipients strip it).
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isValue(s[i]) {
			return false
		}
	}
	return true
}

// AppendError appends a complete minimal HTTP/1.1 error response to dst:
// the status line, Connection: close, a text/plain body of
// "<status> <text>: <reason>\n" with its Content-Length, and
// X-Content-Type-Options: nosniff. The caller writes it and closes the
// connection. Bytes of reason that may not appear in a field value are
// replaced by '?', so passing client input cannot split the response.
// It panics if status has other than three digits.
func AppendError(dst []byte, status int, reason string) []byte {
	text := StatusText(status)
	bodyLen := 3 + 1 // "400" and the final newline
	if text != "" {
		bodyLen += 1 + len(text)
	}
	if reason != "" {
		bodyLen += 2 + len(reason)
	}
	dst = AppendStatusLine(dst, 1, status)
	dst = append(dst, "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(bodyLen), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	if text != "" {
		dst = append(dst, ' ')
		dst = append(dst, text...)
	}
	if reason != "" {
		dst = append(dst, ": "...)
		for i := 0; i < len(reason); i++ {
			c := reason[i]
			if !isValue(c) || c == '\t' {
				c = '?'
			}
			dst = append(dst, c)
		}
	}
	return append(dst, '\n')
}
