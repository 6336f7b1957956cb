package packet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
)

// chunkSource is a Source over bytes that arrive in "reads". It is strict
// about the Source contract so that a Decoder which breaks it fails: every
// call poisons the slice the previous call returned, and slices are copies,
// so the poison never reaches bytes still to be decoded.
type chunkSource struct {
	data     []byte // buffered, not consumed
	consumed int    // bytes consumed by Next so far
	fed      int    // bytes appended by feed so far
	last     []byte // the slice handed out by the previous call
}

var _ Source = (*chunkSource)(nil)

func (s *chunkSource) feed(p []byte) {
	s.data = append(s.data, p...)
	s.fed += len(p)
}

func (s *chunkSource) poison() {
	for i := range s.last {
		s.last[i] = 0xA5
	}
	s.last = nil
}

func (s *chunkSource) InboundBuffered() int {
	s.poison()
	return len(s.data)
}

func (s *chunkSource) peek(n int) ([]byte, error) {
	s.poison()
	if n < 0 {
		return nil, fmt.Errorf("chunkSource: negative count %d", n)
	}
	var err error
	if n > len(s.data) {
		n, err = len(s.data), io.ErrShortBuffer
	}
	s.last = slices.Clone(s.data[:n])
	return s.last, err
}

func (s *chunkSource) Peek(n int) ([]byte, error) { return s.peek(n) }

func (s *chunkSource) Next(n int) ([]byte, error) {
	p, err := s.peek(n)
	s.data = s.data[len(p):]
	s.consumed += len(p)
	return p, err
}

// result is one outcome of Decoder.Next, comparable across runs.
type result struct {
	code uint16
	body string
	err  error // nil, or the sentinel the error matches
}

func (r result) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("code %d, %d-byte body %.16q", r.code, len(r.body), r.body)
}

// classify maps an error from Next to the sentinel it matches, checking
// that its type is the documented one.
func classify(t testing.TB, err error) error {
	t.Helper()
	var le *LengthError
	var ce *ChecksumError
	switch {
	case err == nil, err == ErrIncomplete:
		return err
	case errors.Is(err, ErrTooManyBadPackets):
		if errors.Is(err, ErrChecksum) {
			t.Fatalf("fatal %v also matches ErrChecksum", err)
		}
		return ErrTooManyBadPackets
	case errors.As(err, &le):
		return ErrLength
	case errors.As(err, &ce):
		return ErrChecksum
	}
	t.Fatalf("unexpected error %T %v", err, err)
	return nil
}

// drain calls Next until it reports ErrIncomplete or a fatal error and
// returns the outcomes, the final ErrIncomplete excluded. It checks the
// invariants every caller relies on: bodies within the limit, nothing
// consumed on ErrIncomplete or a length error, exactly one packet consumed
// otherwise, Fatal agreeing with the error, and fatal errors sticky.
func drain(t testing.TB, d *Decoder, s *chunkSource) []result {
	t.Helper()
	var out []result
	for {
		before := s.consumed
		buffered := len(s.data)
		code, body, err := d.Next(s)
		if s.consumed+len(s.data) != s.fed {
			t.Fatalf("consumed %d + remaining %d != fed %d", s.consumed, len(s.data), s.fed)
		}
		r := result{code: code, body: string(body), err: classify(t, err)}
		if err != nil && (code != 0 || body != nil) {
			t.Fatalf("error %v with code %d and %d-byte body", err, code, len(body))
		}
		if max := d.maxPacket(); len(body) > max-HeaderSize {
			t.Fatalf("body of %d bytes above MaxPacket %d", len(body), max)
		}
		switch r.err {
		case ErrIncomplete, ErrLength:
			if s.consumed != before {
				t.Fatalf("%v consumed %d bytes", err, s.consumed-before)
			}
		default:
			if n := s.consumed - before; n < HeaderSize || n > buffered {
				t.Fatalf("%v consumed %d of %d bytes", r, n, buffered)
			}
		}
		if Fatal(err) != (r.err == ErrLength || r.err == ErrTooManyBadPackets) {
			t.Fatalf("Fatal(%v) = %v", err, Fatal(err))
		}
		if r.err == ErrIncomplete {
			if buffered >= HeaderSize && buffered >= int(ParseHeader(s.data).Length) {
				t.Fatalf("ErrIncomplete with %d bytes buffered for a %d-byte packet", buffered, ParseHeader(s.data).Length)
			}
			return out
		}
		out = append(out, r)
		if Fatal(err) {
			before := s.consumed
			for range 2 {
				_, _, again := d.Next(s)
				if again != err || d.Err() != err {
					t.Fatalf("fatal error not sticky: %v, then %v", err, again)
				}
			}
			if s.consumed != before {
				t.Fatalf("Next after a fatal error consumed %d bytes", s.consumed-before)
			}
			return out
		}
	}
}

// decodeChunks feeds stream to a fresh Decoder with the given limits in
// reads of the given sizes (the rest in one read once sizes run out),
// draining after each read.
func decodeChunks(t testing.TB, proto Decoder, stream []byte, sizes []int) []result {
	t.Helper()
	d := proto
	s := &chunkSource{}
	var out []result
	for len(stream) > 0 {
		n := len(stream)
		if len(sizes) > 0 {
			n = min(max(sizes[0], 1), n)
			sizes = sizes[1:]
		}
		s.feed(stream[:n])
		stream = stream[n:]
		out = append(out, drain(t, &d, s)...)
		if d.Err() != nil {
			break
		}
	}
	return out
}

// enc concatenates packets for tests; they must be encodable.
func enc(pkts ...result) []byte {
	var b []byte
	for _, p := range pkts {
		var err error
		if b, err = Append(b, p.code, []byte(p.body)); err != nil {
			panic(err)
		}
	}
	return b
}

// rawPacket builds a packet with an arbitrary header, for hostile input.
func rawPacket(length, code uint16, crc uint32, body string) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	Header{Length: length, Code: code, CRC: crc}.Put(b)
	return append(b, body...)
}

func sameResults(a, b []result) bool {
	return slices.EqualFunc(a, b, func(x, y result) bool {
		return x.code == y.code && x.body == y.body && x.err == y.err
	})
}

func diffResults(t testing.TB, got, want []result) {
	t.Helper()
	if sameResults(got, want) {
		return
	}
	var g, w bytes.Buffer
	for _, r := range got {
		fmt.Fprintf(&g, "\n\t%v", r)
	}
	for _, r := range want {
		fmt.Fprintf(&w, "\n\t%v", r)
	}
	t.Fatalf("got %d results:%s\nwant %d:%s", len(got), g.String(), len(want), w.String())
}
