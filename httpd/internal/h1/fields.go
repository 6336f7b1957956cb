package h1

import (
	"bytes"
	"encoding/binary"
)

// fieldLine parses the field line at b[pos:] (RFC 9112 §5), which must not
// be the empty line, and returns its name, its value without OWS, and the
// offset past its terminator. It returns ErrIncomplete if b ends first
// with nothing invalid before. bareLF says whether a lone LF ends a line
// (true in the head, false in a chunked trailer section).
func fieldLine(b []byte, pos int, bareLF bool) (name, value []byte, next int, err error) {
	if isOWS(b[pos]) {
		// obs-fold, or whitespace before the first field (§2.2): both are
		// rejected, never unfolded.
		return nil, nil, 0, errObsFold
	}
	start := pos
	for pos < len(b) && isToken(b[pos]) {
		pos++
	}
	if pos >= len(b) {
		return nil, nil, 0, ErrIncomplete
	}
	if b[pos] != ':' {
		switch b[pos] {
		case ' ', '\t':
			return nil, nil, 0, errSpaceBeforeColon
		case '\r', '\n':
			return nil, nil, 0, errMissingColon
		}
		return nil, nil, 0, errNameByte
	}
	if pos == start {
		return nil, nil, 0, errEmptyName
	}
	name = b[start:pos]
	pos++
	for pos < len(b) && isOWS(b[pos]) {
		pos++
	}

	vstart := pos
	pos = scanValue(b, pos)
	if pos >= len(b) {
		return nil, nil, 0, ErrIncomplete
	}
	vend := pos
	switch b[pos] {
	case '\n':
		if !bareLF {
			return nil, nil, 0, errChunkBareLF
		}
		pos++
	case '\r':
		if pos+1 >= len(b) {
			return nil, nil, 0, ErrIncomplete
		}
		if b[pos+1] != '\n' {
			return nil, nil, 0, errBareCR
		}
		pos += 2
	default:
		return nil, nil, 0, errValueByte
	}
	for vend > vstart && isOWS(b[vend-1]) {
		vend--
	}
	return name, b[vstart:vend], pos, nil
}

// scanValue returns the offset of the first byte at or after pos that may
// not appear in a field value (a CTL other than HTAB, or DEL), or len(b).
func scanValue(b []byte, pos int) int {
	// Eight bytes at a time while none is below 0x20 or equal to 0x7f,
	// with the classic "has a byte less than n" and "has a zero byte"
	// tests (each exact as to whether such a byte exists). HTAB, CR and
	// LF drop to the byte loop, which sorts them out.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; len(b)-pos >= 8; pos += 8 {
		x := binary.LittleEndian.Uint64(b[pos:])
		del := x ^ 0x7f*ones
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			break
		}
	}
	for pos < len(b) && isValue(b[pos]) {
		pos++
	}
	return pos
}

// headState collects what the field lines say about framing and
// connection management until the head is complete; it lives on
// ParseRequest's stack.
type headState struct {
	hosts         int    // Host field lines seen
	cl            []byte // the first Content-Length value, nil if none
	te            bool   // a Transfer-Encoding field line was seen
	teChunked     int    // how many times chunked appears in the combined list
	teLastChunked bool   // the last coding so far is chunked
	teOther       bool   // a coding other than chunked appears
	connClose     bool
	connKeepAlive bool
	connUpgrade   bool
	upgrade       bool // a non-empty Upgrade field was seen
	expect        bool // Expect: 100-continue was seen
}

// field applies the semantics of one field line. Checks that involve one
// line only fail here, at once; checks across lines wait for finish.
func (st *headState) field(r *Request, name, v []byte) error {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			st.hosts++
			if st.hosts > 1 {
				return errHostDuplicate
			}
			// Empty is valid: RFC 9110 §7.2 has clients send it when the
			// target URI has no authority.
			if len(v) > 0 && !validAuthority(v, false) {
				return errHostInvalid
			}
			r.Host = v
		}
	case 6:
		if equalFold(name, "expect") {
			it := elements{rest: v}
			for e, ok := it.next(); ok; e, ok = it.next() {
				if len(e) == 0 {
					continue
				}
				if !equalFold(e, "100-continue") {
					return errExpectUnsupported
				}
				st.expect = true
			}
		}
	case 7:
		if equalFold(name, "upgrade") && len(v) > 0 {
			st.upgrade = true
		}
	case 10:
		if equalFold(name, "connection") {
			it := elements{rest: v}
			for e, ok := it.next(); ok; e, ok = it.next() {
				switch {
				case equalFold(e, "close"):
					st.connClose = true
				case equalFold(e, "keep-alive"):
					st.connKeepAlive = true
				case equalFold(e, "upgrade"):
					st.connUpgrade = true
				}
			}
		}
	case 14:
		if equalFold(name, "content-length") {
			return st.contentLength(r, v)
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return st.transferEncoding(v)
		}
	}
	return nil
}

// contentLength handles one Content-Length line (RFC 9112 §6.3, RFC 9110
// §8.6): 1*DIGIT, or a list of identical values, and identical to any
// earlier Content-Length line.
func (st *headState) contentLength(r *Request, v []byte) error {
	it := elements{rest: v}
	for e, ok := it.next(); ok; e, ok = it.next() {
		if st.cl != nil {
			if !bytes.Equal(e, st.cl) {
				return errContentLengths
			}
			continue
		}
		n, ok := parseDecimal(e)
		if !ok {
			return errContentLength
		}
		st.cl, r.ContentLength = e, n
	}
	return nil
}

// parseDecimal parses 1*DIGIT into a non-negative int64.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// transferEncoding handles one Transfer-Encoding line (RFC 9112 §6.1):
// its codings extend the list built from earlier lines.
func (st *headState) transferEncoding(v []byte) error {
	st.te = true
	it := elements{rest: v}
	for e, ok := it.next(); ok; e, ok = it.next() {
		// Empty elements are not skipped, contrary to RFC 9110 §5.6.1:
		// an intermediary that does not skip them would disagree with us
		// about the framing. See doc.go.
		i := 0
		for i < len(e) && isToken(e[i]) {
			i++
		}
		if i == 0 {
			return errTESyntax
		}
		if params := e[i:]; len(params) > 0 {
			// transfer-coding = token *( OWS ";" OWS transfer-parameter ).
			// chunked has no parameters; those of other codings do not
			// matter since we reject those codings anyway.
			if p := trimOWS(params); p[0] != ';' || equalFold(e[:i], "chunked") {
				return errTESyntax
			}
		}
		if equalFold(e, "chunked") {
			st.teChunked++
			st.teLastChunked = true
		} else {
			st.teOther = true
			st.teLastChunked = false
		}
	}
	return nil
}

// finish applies the checks that span field lines, in a fixed order, and
// fills in the rest of r.
func (st *headState) finish(r *Request) error {
	if st.te {
		switch {
		case r.Minor == 0:
			return errTEHTTP10
		case st.cl != nil:
			return errTEAndCL
		case st.teChunked > 1:
			return errTEChunkedTwice
		case !st.teLastChunked:
			return errTEChunkedNotLast
		case st.teOther:
			return errTEUnsupported
		}
		r.Chunked = true
	}
	if r.Minor == 1 && st.hosts == 0 {
		return errHostMissing
	}
	r.Close = st.connClose || r.Minor == 0 && !st.connKeepAlive
	r.Upgrade = st.connUpgrade && st.upgrade && r.Minor == 1
	r.ExpectContinue = st.expect && r.Minor == 1
	return nil
}
