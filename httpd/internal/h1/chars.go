package h1

// Byte classes, as 256-entry tables so that the scanning loops cost one
// load and one branch per byte.

const (
	classToken   = 1 << iota // tchar (RFC 9110 §5.6.2)
	classTarget              // allowed in a request-target: VCHAR except '#' (see doc.go)
	classValue               // field-vchar, SP, HTAB (RFC 9110 §5.5)
	classRegName             // unreserved and sub-delims: a reg-name without pct-encoding (RFC 3986 §3.2.2)
	classHex                 // HEXDIG
)

var class [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		var k uint8
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			k |= classToken | classRegName
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			k |= classToken
		}
		switch c {
		case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
			k |= classRegName
		}
		if c >= 0x21 && c <= 0x7e && c != '#' {
			k |= classTarget
		}
		if c == '\t' || c >= 0x20 && c != 0x7f {
			k |= classValue
		}
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			k |= classHex
		}
		class[c] = k
	}
}

func isToken(c byte) bool   { return class[c]&classToken != 0 }
func isTarget(c byte) bool  { return class[c]&classTarget != 0 }
func isValue(c byte) bool   { return class[c]&classValue != 0 }
func isRegName(c byte) bool { return class[c]&classRegName != 0 }
func isHex(c byte) bool     { return class[c]&classHex != 0 }
func isOWS(c byte) bool     { return c == ' ' || c == '\t' }

// unhex returns the value of a hex digit, or -1.
func unhex(c byte) int64 {
	switch {
	case c >= '0' && c <= '9':
		return int64(c - '0')
	case c >= 'a' && c <= 'f':
		return int64(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int64(c - 'A' + 10)
	}
	return -1
}

// trimOWS removes optional whitespace (SP, HTAB) from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// lower maps ASCII upper case to lower case and every other byte to itself.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals s ignoring ASCII case. It does not
// allocate; s is expected to be short and usually lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != s[i] && lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// elements iterates over a comma-separated list (RFC 9110 §5.6.1). Every
// element is returned with OWS trimmed, including empty ones: an empty
// list yields one empty element and "a," yields "a" and "".
type elements struct {
	rest []byte
	done bool
}

func (it *elements) next() (elem []byte, ok bool) {
	if it.done {
		return nil, false
	}
	for i, c := range it.rest {
		if c == ',' {
			elem, it.rest = it.rest[:i], it.rest[i+1:]
			return trimOWS(elem), true
		}
	}
	it.done = true
	return trimOWS(it.rest), true
}
