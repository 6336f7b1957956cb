package websocket

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unicode/utf8"
)

func TestFrameHeaderRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 40} {
		for _, masked := range []bool{false, true} {
			for _, op := range []opcode{opContinuation, opText, opBinary, opClose, opPing, opPong} {
				b := appendFrameHeader(nil, n%2 == 0, op == opText, op, n, masked, 0x01020304)
				if len(b) != frameHeaderLen(n, masked) {
					t.Fatalf("len %d, frameHeaderLen %d", len(b), frameHeaderLen(n, masked))
				}
				h, res := parseFrameHeader(b)
				if res != parseOK || h.length != int64(n) || h.masked != masked || h.op != op || h.fin != (n%2 == 0) ||
					(h.rsv == bitRsv1) != (op == opText) || int(h.hlen) != len(b) || (masked && h.key != 0x01020304) {
					t.Fatalf("n=%d masked=%v op=%d: parsed %+v (%v)", n, masked, op, h, res)
				}
				for i := range len(b) {
					if _, res := parseFrameHeader(b[:i]); res != parseShort {
						t.Fatalf("prefix of %d bytes: %v, want parseShort", i, res)
					}
				}
			}
		}
	}
}

// TestMaskBytes compares the word-at-a-time masking with the RFC's
// definition, at every key position and length around the word sizes.
func TestMaskBytes(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	k := binary.BigEndian.Uint32(key[:])
	for n := range 80 {
		for pos := range 4 {
			b := payloadOf(n)
			want := bytes.Clone(b)
			for i := range want {
				want[i] ^= key[(pos+i)%4]
			}
			if next := maskBytes(k, pos, b); next != (pos+n)%4 {
				t.Fatalf("next position %d, want %d", next, (pos+n)%4)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: %x, want %x", n, pos, b, want)
			}
		}
	}
}

// FuzzUTF8State: fed in pieces, the incremental validator accepts exactly
// the valid texts, and after each piece it has accepted exactly the
// prefixes some valid text starts with (so it fails at the first piece that
// cannot be continued: Autobahn's fail-fast cases).
func FuzzUTF8State(f *testing.F) {
	for _, u := range utf8Cases {
		f.Add(u.b, uint8(1), uint8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, s1, s2 uint8) {
		var st utf8State
		done := 0
		for i := 0; done < len(b); i++ {
			n := min(int([]uint8{s1, s2}[i%2]%8)+1, len(b)-done)
			ok := st.feed(b[done : done+n])
			done += n
			if want := continuable(b[:done]); ok != want {
				t.Fatalf("after %d of %x: feed %v, want %v", done, b, ok, want)
			}
			if !ok {
				return
			}
		}
		if got := st.complete(); got != utf8.Valid(b) {
			t.Fatalf("%x: complete %v, utf8.Valid %v", b, got, utf8.Valid(b))
		}
	})
}

// continuable reports whether some valid UTF-8 text starts with p, by
// brute force: p itself, or p followed by one to three continuation bytes.
func continuable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	tails := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	var try func(s []byte, depth int) bool
	try = func(s []byte, depth int) bool {
		if utf8.Valid(s) {
			return true
		}
		if depth == 3 {
			return false
		}
		for _, c := range tails {
			if try(append(s, c), depth+1) {
				return true
			}
		}
		return false
	}
	return try(bytes.Clone(p), 0)
}

func TestUTF8StateSplits(t *testing.T) {
	for _, u := range utf8Cases {
		for piece := 1; piece <= 4; piece++ {
			var st utf8State
			ok := true
			for b := u.b; len(b) > 0 && ok; b = b[min(piece, len(b)):] {
				ok = st.feed(b[:min(piece, len(b))])
			}
			ok = ok && st.complete()
			if ok != utf8.Valid(u.b) {
				t.Errorf("%s in pieces of %d: %v, want %v", u.name, piece, ok, utf8.Valid(u.b))
			}
		}
	}
}
