package websocket

import "unicode/utf8"

// utf8State validates text that arrives in pieces (fragments, or parts of
// a large frame): it keeps the incomplete UTF-8 sequence at the end of one
// piece and completes it with the start of the next. It fails as soon as a
// piece holds a byte that no valid text can continue, so an invalid
// fragment is refused before the message ends (Autobahn 6.4.x).
//
// The zero value is ready; it is owned by the goroutine reading frames.
type utf8State struct {
	tail [3]byte // an incomplete sequence carried over
	n    uint8   // bytes in tail
}

// reset forgets a carried sequence (at the end of a message).
func (s *utf8State) reset() { s.n = 0 }

// complete reports whether the text so far ends on a character boundary:
// a message is valid when every piece was and complete is true at its end.
func (s *utf8State) complete() bool { return s.n == 0 }

// feed validates the next piece. It reports false if the text so far can no
// longer be valid UTF-8, whatever follows.
func (s *utf8State) feed(p []byte) bool {
	if s.n > 0 {
		// Complete the carried sequence with the first bytes of p.
		need := seqLen(s.tail[0]) - int(s.n)
		if len(p) < need {
			var buf [4]byte
			m := copy(buf[:], s.tail[:s.n])
			m += copy(buf[m:], p)
			if !validPrefix(buf[:m]) {
				return false
			}
			copy(s.tail[:], buf[:m])
			s.n = uint8(m)
			return true
		}
		var buf [4]byte
		m := copy(buf[:], s.tail[:s.n])
		copy(buf[m:], p[:need])
		if !utf8.Valid(buf[:m+need]) {
			return false
		}
		s.n = 0
		p = p[need:]
	}
	// Find an incomplete sequence at the end of p: look back at most
	// three bytes for a leading byte whose sequence runs past the end.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		c := p[i]
		if c < 0x80 {
			break // ASCII: nothing incomplete after it
		}
		if c >= 0xC0 { // a leading byte
			if i+seqLen(c) > len(p) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	if cut < len(p) {
		if !validPrefix(p[cut:]) {
			return false
		}
		s.n = uint8(copy(s.tail[:], p[cut:]))
	}
	return true
}

// seqLen is the length of the sequence a leading byte starts (0 for bytes
// that cannot start one: continuation bytes, C0, C1 and F5-FF).
func seqLen(c byte) int {
	switch {
	case c < 0x80:
		return 1
	case c < 0xC2:
		return 0
	case c < 0xE0:
		return 2
	case c < 0xF0:
		return 3
	case c < 0xF5:
		return 4
	}
	return 0
}

// validPrefix reports whether b (shorter than the sequence its first byte
// starts) can begin a valid UTF-8 sequence: the second byte's range depends
// on the first (no overlong forms, no surrogates, nothing above U+10FFFF).
func validPrefix(b []byte) bool {
	n := seqLen(b[0])
	if n < 2 || len(b) >= n {
		return false
	}
	if len(b) > 1 {
		lo, hi := byte(0x80), byte(0xBF)
		switch b[0] {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
		if b[1] < lo || b[1] > hi {
			return false
		}
	}
	if len(b) > 2 && (b[2] < 0x80 || b[2] > 0xBF) {
		return false
	}
	return true
}
