package h1

import (
	"bytes"
	"errors"
	"strconv"
)

// Default limits, used for the zero fields of Limits.
const (
	DefaultMaxRequestLine = 8 << 10  // 8 KiB
	DefaultMaxHeaderBytes = 64 << 10 // 64 KiB
	DefaultMaxHeaders     = 100
)

// maxEmptyLines is how many empty lines ParseRequest skips before the
// request line (RFC 9112 §2.2 asks servers to ignore "at least one"; some
// clients send a CRLF after a POST body). More is a 400.
const maxEmptyLines = 2

// Limits bound what ParseRequest accepts, so that a slow or hostile client
// cannot make the server buffer an unbounded head. A field that is zero or
// negative takes its default.
type Limits struct {
	// MaxRequestLine is the longest request line in bytes, not counting
	// its line terminator. Default DefaultMaxRequestLine (8 KiB); a longer
	// line is a 414 URI Too Long.
	MaxRequestLine int

	// MaxHeaderBytes is the longest head in bytes: any leading empty
	// lines, the request line, every field line and the final empty line,
	// terminators included. Default DefaultMaxHeaderBytes (64 KiB); a
	// longer head is a 431 Request Header Fields Too Large.
	MaxHeaderBytes int

	// MaxHeaders is the largest number of field lines. Default
	// DefaultMaxHeaders (100); more is a 431.
	MaxHeaders int
}

// Validate reports a negative field, naming it. ParseRequest itself
// treats such a field as zero, that is as its default; Validate is for
// the configuration layer, to catch the mistake early.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxRequestLine", l.MaxRequestLine}, {"MaxHeaderBytes", l.MaxHeaderBytes}, {"MaxHeaders", l.MaxHeaders}} {
		if f.v < 0 {
			return errors.New("h1: Limits." + f.name + " is negative: " + strconv.Itoa(f.v))
		}
	}
	return nil
}

func (l Limits) effective() (maxLine, maxHead, maxHeaders int) {
	maxLine, maxHead, maxHeaders = l.MaxRequestLine, l.MaxHeaderBytes, l.MaxHeaders
	if maxLine <= 0 {
		maxLine = DefaultMaxRequestLine
	}
	if maxHead <= 0 {
		maxHead = DefaultMaxHeaderBytes
	}
	if maxHeaders <= 0 {
		maxHeaders = DefaultMaxHeaders
	}
	return maxLine, maxHead, maxHeaders
}

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

const (
	OriginForm    TargetForm = iota // "/path?query", any method but CONNECT
	AbsoluteForm                    // "http://host/path?query", any method but CONNECT
	AuthorityForm                   // "host:port", CONNECT only
	AsteriskForm                    // "*", OPTIONS only
)

var formNames = [...]string{"origin-form", "absolute-form", "authority-form", "asterisk-form"}

func (f TargetForm) String() string {
	if int(f) < len(formNames) {
		return formNames[f]
	}
	return "TargetForm(?)"
}

// Header is one field line of a request head. Both slices alias the
// buffer given to ParseRequest.
type Header struct {
	Name  []byte // the field name as sent (case preserved)
	Value []byte // the field value with leading and trailing OWS removed
}

// Request is a parsed request head. Every []byte in it is a subslice of
// the buffer given to ParseRequest, so it is valid only as long as those
// bytes are: on an event loop, until the connection's inbound buffer is
// consumed or compacted. Copy what must outlive that.
//
// A Request is owned by one goroutine (the connection's event loop);
// reuse it for every request of a connection so that Headers keeps its
// capacity and ParseRequest stops allocating.
type Request struct {
	Method []byte     // a token, case-sensitive ("GET", "POST", ...)
	Target []byte     // the request-target as sent
	Proto  []byte     // the version as sent, "HTTP/1.1" or "HTTP/1.0" ("HTTP/1.2"..."HTTP/1.9" are accepted as 1.1)
	Major  int        // always 1
	Minor  int        // 0 for HTTP/1.0, 1 for HTTP/1.1 and later 1.x
	Form   TargetForm // the form of Target

	// Headers are the field lines in the order received. The backing
	// array is kept across Reset.
	Headers []Header

	ContentLength  int64 // the Content-Length, -1 when absent (and always when Chunked)
	Chunked        bool  // the body uses the chunked transfer coding
	Close          bool  // the connection must close after this exchange
	ExpectContinue bool  // an HTTP/1.1 request sent Expect: 100-continue
	Upgrade        bool  // an HTTP/1.1 request sent Connection: upgrade and an Upgrade field
	Host           []byte
}

// Reset empties r for the next request, keeping the capacity of Headers.
// ParseRequest calls it first, so calling it is needed only to drop the
// references r holds into the last buffer.
func (r *Request) Reset() {
	clear(r.Headers) // drop references into the old buffer
	*r = Request{Headers: r.Headers[:0], ContentLength: -1}
}

// Get returns the value of the first field named name (compared without
// regard to ASCII case), or nil. It does not allocate.
func (r *Request) Get(name string) []byte {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// Values calls fn with the value of every field line named name, in
// order. A comma-separated value is passed whole, not split. It does not
// allocate unless fn does.
func (r *Request) Values(name string, fn func(value []byte)) {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			fn(r.Headers[i].Value)
		}
	}
}

// Authority returns the authority the request is for: the host[:port] of
// an absolute-form target, the target itself in authority-form, and the
// Host field otherwise (RFC 9112 §3.2.2: the target wins over Host).
func (r *Request) Authority() []byte {
	switch r.Form {
	case AbsoluteForm:
		a, _ := splitAbsolute(r.Target)
		return a
	case AuthorityForm:
		return r.Target
	}
	return r.Host
}

// ParseRequest parses the request head at the start of buf into req and
// returns its length n: the bytes of any leading empty lines, the request
// line, the field lines and the final empty line. The body, or the next
// pipelined request, starts at buf[n].
//
// ParseRequest resets req first and keeps no state between calls: when it
// returns ErrIncomplete, call it again from the start of the head once
// more bytes have arrived. Heads are small, and the rescan is cheaper than
// bookkeeping. It returns a limit's *Error as soon as buf shows the limit
// is exceeded, whether or not the head is complete, so a client can never
// make the caller buffer more than the limits.
//
// Any other error is an *Error with the status to answer with; the caller
// should send it (AppendError) and close the connection, since the stream
// can no longer be framed.
//
// On error, what req holds is unspecified.
//
// ParseRequest does not allocate, except to grow req.Headers. It keeps no
// reference to buf beyond the slices stored in req. It may be called from
// any goroutine that owns req and buf.
func ParseRequest(buf []byte, req *Request, lim Limits) (n int, err error) {
	req.Reset()
	maxLine, maxHead, maxHeaders := lim.effective()

	// Scan only the first maxHead bytes. Running out of bytes then means
	// "incomplete" if buf ended, and "too large" if the window did: the
	// head does not end within maxHead bytes. A syntax error inside the
	// window is reported first either way, so that a prefix of the input
	// never reports something the whole input would not.
	b, more := buf, error(ErrIncomplete)
	if len(b) >= maxHead {
		b, more = b[:maxHead], errHeadTooLarge
	}

	pos := 0
	for empty := 0; ; empty++ {
		if pos >= len(b) {
			return 0, more
		}
		if c := b[pos]; c == '\n' {
			pos++
		} else if c == '\r' {
			if pos+1 >= len(b) {
				return 0, more
			}
			if b[pos+1] != '\n' {
				return 0, errBareCR
			}
			pos += 2
		} else {
			break
		}
		if empty == maxEmptyLines {
			return 0, errLeadingEmptyLines
		}
	}

	pos, err = req.requestLine(b, pos, maxLine, more)
	if err != nil {
		return 0, err
	}

	var st headState
	for {
		if pos >= len(b) {
			return 0, more
		}
		if c := b[pos]; c == '\n' {
			pos++
			break
		} else if c == '\r' {
			if pos+1 >= len(b) {
				return 0, more
			}
			if b[pos+1] != '\n' {
				return 0, errBareCR
			}
			pos += 2
			break
		} else if len(req.Headers) == maxHeaders && !isOWS(c) {
			return 0, errTooManyHeaders
		}
		name, value, next, err := fieldLine(b, pos, true)
		if err != nil {
			if err == ErrIncomplete {
				err = more
			}
			return 0, err
		}
		// Grow, then store field by field: appending a composite literal
		// makes the compiler copy it through the stack with a store-
		// forwarding stall, a fifth of the time of a typical head.
		i := len(req.Headers)
		req.Headers = append(req.Headers, Header{})
		req.Headers[i].Name, req.Headers[i].Value = name, value
		if err := st.field(req, name, value); err != nil {
			return 0, err
		}
		pos = next
	}
	if err := st.finish(req); err != nil {
		return 0, err
	}
	return pos, nil
}

// requestLine parses the request line at b[pos:] (RFC 9112 §3) and returns
// the offset just past its terminator. A line longer than maxLine is a 414
// unless its first maxLine bytes already hold a syntax error, which is
// reported instead, whether or not the line is complete: that keeps the
// answer independent of how the input was split.
func (r *Request) requestLine(b []byte, pos, maxLine int, more error) (int, error) {
	win := b[pos:]
	if len(win) > maxLine+2 { // content, CR, LF
		win = win[:maxLine+2]
	}
	i := bytes.IndexByte(win, '\n')
	line := win
	if i >= 0 {
		line = win[:i]
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) > maxLine {
		if err := r.scanRequestLine(line[:maxLine], false); err != nil {
			return 0, err
		}
		return 0, errURITooLong
	}
	if i < 0 {
		if err := r.scanRequestLine(line, false); err != nil {
			return 0, err
		}
		return 0, more
	}
	if err := r.scanRequestLine(line, true); err != nil {
		return 0, err
	}
	return pos + i + 1, nil
}

// scanRequestLine checks line, the request line without its terminator,
// left to right, and on success stores its parts in r. When complete is
// false line is only a prefix: it reports errors that no continuation
// could repair and otherwise returns nil.
func (r *Request) scanRequestLine(line []byte, complete bool) error {
	i := 0
	for i < len(line) && isToken(line[i]) {
		i++
	}
	if i == len(line) {
		if complete {
			return errRequestLine
		}
		return nil
	}
	if line[i] != ' ' || i == 0 {
		return lineByteError(line[i], errMethod)
	}

	j := i + 1
	for j < len(line) && isTarget(line[j]) {
		j++
	}
	if j == len(line) {
		if complete {
			return errRequestLine
		}
		return nil
	}
	switch line[j] {
	case ' ':
		if j == i+1 {
			return errSpaces
		}
	case '#':
		return errTargetFragment
	default:
		return lineByteError(line[j], errTargetByte)
	}

	const version = "HTTP/1.1"
	v := line[j+1:]
	if len(v) == len(version) && string(v[:7]) == "HTTP/1." && v[7] >= '0' && v[7] <= '9' {
		// The common case, without the byte loop below.
	} else if err := scanVersion(v); err != nil {
		return err
	}
	if !complete {
		return nil
	}
	if len(v) < len(version) {
		return errVersion
	}
	if v[5] != '1' {
		return errVersionUnsupported
	}
	method, target := line[:i], line[i+1:j]
	form, err := targetForm(method, target)
	if err != nil {
		return err
	}
	r.Method, r.Target, r.Proto, r.Form = method, target, v, form
	r.Major, r.Minor = 1, 1
	if v[7] == '0' {
		r.Minor = 0
	}
	return nil
}

// scanVersion checks v, all or the start of an HTTP-version, against
// "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3: case-sensitive, one digit each).
func scanVersion(v []byte) error {
	const version = "HTTP/1.1"
	for k, c := range v {
		ok := false
		switch {
		case k >= len(version):
		case k == 5 || k == 7:
			ok = c >= '0' && c <= '9'
		default:
			ok = c == version[k]
		}
		if !ok {
			return lineByteError(c, errVersion)
		}
	}
	return nil
}

// lineByteError names an unexpected byte in the request line: a CR not
// followed by LF, stray whitespace, or anything else (err).
func lineByteError(c byte, err *Error) *Error {
	switch c {
	case '\r':
		return errBareCR
	case ' ', '\t':
		return errSpaces
	}
	return err
}

// targetForm checks a request-target that holds only classTarget bytes
// against the forms its method allows (RFC 9112 §3.2).
func targetForm(method, t []byte) (TargetForm, error) {
	for i := 0; i < len(t); i++ {
		if t[i] == '%' {
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return 0, errTargetPercent
			}
			i += 2
		}
	}
	connect := string(method) == "CONNECT"
	switch {
	case t[0] == '/':
		if connect {
			return 0, errTargetForm
		}
		return OriginForm, nil
	case len(t) == 1 && t[0] == '*':
		if string(method) != "OPTIONS" {
			return 0, errTargetForm
		}
		return AsteriskForm, nil
	case connect:
		// authority-form = uri-host ":" port
		if !validAuthority(t, true) {
			return 0, errAuthorityForm
		}
		return AuthorityForm, nil
	}
	if bytes.Index(t, []byte("://")) < 0 {
		return 0, errTargetForm
	}
	// No userinfo ('@' is not allowed in an authority here): RFC 9110
	// §4.2.4 says to treat it as an error. No empty host: §4.2.1.
	if authority, ok := splitAbsolute(t); !ok || !validAuthority(authority, false) {
		return 0, errAbsoluteForm
	}
	return AbsoluteForm, nil
}

// splitAbsolute returns the authority of an http or https absolute-form
// target: what follows "scheme://" up to the first '/' or '?'. ok is false
// for any other scheme.
func splitAbsolute(t []byte) (authority []byte, ok bool) {
	switch {
	case len(t) >= 7 && equalFold(t[:7], "http://"):
		t = t[7:]
	case len(t) >= 8 && equalFold(t[:8], "https://"):
		t = t[8:]
	default:
		return nil, false
	}
	for i, c := range t {
		if c == '/' || c == '?' {
			return t[:i], true
		}
	}
	return t, true
}
