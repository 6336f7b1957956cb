package packet

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomPackets returns n packets with random codes and bodies of 0 to
// maxPacket-HeaderSize random bytes, a quarter of them empty or tiny.
func randomPackets(rng *rand.Rand, n, maxPacket int) []result {
	pkts := make([]result, n)
	for i := range pkts {
		size := rng.IntN(maxPacket - HeaderSize + 1)
		switch rng.IntN(8) {
		case 0:
			size = 0
		case 1:
			size = min(size, 16)
		case 2:
			size = maxPacket - HeaderSize
		}
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		pkts[i] = result{code: uint16(rng.Uint32()), body: string(body)}
	}
	return pkts
}

// randomSplits cuts a stream of n bytes into reads: mostly short ones
// (packets cut mid-header and mid-body), some of several packets at once.
func randomSplits(rng *rand.Rand, n, maxPacket int) []int {
	var sizes []int
	for total := 0; total < n; {
		var k int
		switch rng.IntN(4) {
		case 0:
			k = 1 + rng.IntN(HeaderSize+1)
		case 1:
			k = 1 + rng.IntN(maxPacket)
		case 2:
			k = 1 + rng.IntN(4*maxPacket)
		default:
			k = 1 + rng.IntN(256)
		}
		sizes = append(sizes, k)
		total += k
	}
	return sizes
}

func TestDecoderRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		maxPacket int // Decoder.MaxPacket; the packets use its effective value
		packets   int
	}{
		{name: "default", maxPacket: 0, packets: 300},
		{name: "limit", maxPacket: MaxPacketLimit, packets: 100},
		{name: "small", maxPacket: 100, packets: 2000},
		{name: "header only", maxPacket: HeaderSize, packets: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto := Decoder{MaxPacket: tt.maxPacket}
			max := proto.maxPacket()
			for seed := range uint64(5) {
				rng := rand.New(rand.NewPCG(seed, 42))
				n := tt.packets
				if testing.Short() {
					n = n/10 + 1
				}
				want := randomPackets(rng, n, max)
				stream := enc(want...)
				got := decodeChunks(t, proto, stream, randomSplits(rng, len(stream), max))
				diffResults(t, got, want)
			}
		})
	}
}

// TestDecoderWholeStream checks the other extreme: everything in one read.
func TestDecoderWholeStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	want := randomPackets(rng, 200, DefaultMaxPacket)
	stream := enc(want...)
	got := decodeChunks(t, Decoder{}, stream, nil)
	diffResults(t, got, want)
}

// hostileTests are the decoder's table tests; they also seed FuzzDecoder.
var hostileTests = []struct {
	name   string
	dec    Decoder
	stream []byte
	want   []result // outcomes before the final ErrIncomplete (or after a fatal error, none)
}{
	{
		name:   "empty stream",
		stream: nil,
		want:   nil,
	},
	{
		name:   "partial header",
		stream: []byte{0x00, 0x08, 0x00},
		want:   nil,
	},
	{
		name:   "length 0",
		stream: rawPacket(0, 5, 0, ""),
		want:   []result{{err: ErrLength}},
	},
	{
		name:   "length 7",
		stream: rawPacket(7, 5, 0, "ab"),
		want:   []result{{err: ErrLength}},
	},
	{
		name:   "length 1 after a good packet",
		stream: append(enc(result{code: 5, body: "ok"}), rawPacket(1, 5, 0, "")...),
		want:   []result{{code: 5, body: "ok"}, {err: ErrLength}},
	},
	{
		name:   "ping",
		stream: rawPacket(8, CodePing, 0, ""),
		want:   []result{{code: CodePing}},
	},
	{
		name:   "empty body with nonzero crc",
		stream: append(rawPacket(8, 9, 1, ""), rawPacket(8, 9, 0, "")...),
		want:   []result{{err: ErrChecksum}, {code: 9}},
	},
	{
		name:   "length exactly MaxPacket",
		stream: enc(result{code: 6, body: strings.Repeat("x", DefaultMaxPacket-HeaderSize)}),
		want:   []result{{code: 6, body: strings.Repeat("x", DefaultMaxPacket-HeaderSize)}},
	},
	{
		name:   "length MaxPacket+1",
		stream: rawPacket(DefaultMaxPacket+1, 6, 0, ""),
		want:   []result{{err: ErrLength}},
	},
	{
		name:   "length 65535 with the default limit",
		stream: rawPacket(0xffff, 6, 0, "body"),
		want:   []result{{err: ErrLength}},
	},
	{
		name:   "custom MaxPacket",
		dec:    Decoder{MaxPacket: 20},
		stream: append(enc(result{code: 2, body: "twelve bytes"}), rawPacket(21, 2, 0, "")...),
		want:   []result{{code: 2, body: "twelve bytes"}, {err: ErrLength}},
	},
	{
		name:   "MaxPacket above the limit is clamped",
		dec:    Decoder{MaxPacket: 1 << 20},
		stream: enc(result{code: 2, body: strings.Repeat("y", MaxPacketLimit-HeaderSize)}),
		want:   []result{{code: 2, body: strings.Repeat("y", MaxPacketLimit-HeaderSize)}},
	},
	{
		name:   "MaxPacket below a header is clamped",
		dec:    Decoder{MaxPacket: 3},
		stream: append(enc(result{code: 0}), rawPacket(9, 0, 0, "x")...),
		want:   []result{{code: 0}, {err: ErrLength}},
	},
	{
		name:   "an HTTP request",
		stream: []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), // length 0x4745 = 18245
		want:   []result{{err: ErrLength}},
	},
	{
		name:   "TLS client hello",
		stream: []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, // length 0x1603
		want:   nil,                                                                      // 5635 bytes announced: waits for them
	},
	{
		name:   "garbage",
		stream: []byte{0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00},
		want:   []result{{err: ErrLength}},
	},
	{
		name: "bad crc in the middle",
		stream: bytes.Join([][]byte{
			enc(result{code: 5, body: "first"}),
			rawPacket(8+6, 5, Checksum([]byte("second")), "SECOND"),
			enc(result{code: 5, body: "third"}, result{code: 0}),
		}, nil),
		want: []result{{code: 5, body: "first"}, {err: ErrChecksum}, {code: 5, body: "third"}, {code: 0}},
	},
	{
		name: "three bad crcs",
		stream: bytes.Join([][]byte{
			rawPacket(8+1, 5, 1, "a"),
			enc(result{code: 5, body: "good"}),
			rawPacket(8+1, 5, 2, "b"),
			rawPacket(8+1, 5, 3, "c"),
			enc(result{code: 5, body: "never"}),
		}, nil),
		want: []result{{err: ErrChecksum}, {code: 5, body: "good"}, {err: ErrChecksum}, {err: ErrTooManyBadPackets}},
	},
	{
		name: "MaxBadPackets 1",
		dec:  Decoder{MaxBadPackets: 1},
		stream: bytes.Join([][]byte{
			enc(result{code: 5, body: "good"}),
			rawPacket(8+1, 5, 1, "a"),
			enc(result{code: 5, body: "never"}),
		}, nil),
		want: []result{{code: 5, body: "good"}, {err: ErrTooManyBadPackets}},
	},
	{
		name: "MaxBadPackets negative",
		dec:  Decoder{MaxBadPackets: -1},
		stream: bytes.Join([][]byte{
			rawPacket(8+1, 5, 1, "a"),
			rawPacket(8+1, 5, 2, "b"),
			rawPacket(8+1, 5, 3, "c"),
			rawPacket(8+1, 5, 4, "d"),
			enc(result{code: 5, body: "still here"}),
		}, nil),
		want: []result{{err: ErrChecksum}, {err: ErrChecksum}, {err: ErrChecksum}, {err: ErrChecksum}, {code: 5, body: "still here"}},
	},
	{
		name:   "truncated body",
		stream: enc(result{code: 5, body: "hello, world"})[:15],
		want:   nil,
	},
	{
		name:   "good packets then a bad length stop there",
		stream: append(enc(result{code: 1, body: "{}"}, result{code: 2}), 0x7f, 0xff, 0, 0, 0, 0, 0, 0),
		want:   []result{{code: 1, body: "{}"}, {code: 2}, {err: ErrLength}},
	},
}

func TestDecoderHostile(t *testing.T) {
	for _, tt := range hostileTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("one read", func(t *testing.T) {
				diffResults(t, decodeChunks(t, tt.dec, tt.stream, nil), tt.want)
			})
			t.Run("byte by byte", func(t *testing.T) {
				ones := make([]int, len(tt.stream))
				for i := range ones {
					ones[i] = 1
				}
				diffResults(t, decodeChunks(t, tt.dec, tt.stream, ones), tt.want)
			})
		})
	}
}

func TestDecoderBadPacketsAndReset(t *testing.T) {
	stream := bytes.Join([][]byte{
		rawPacket(8+1, 5, 1, "a"),
		rawPacket(8+1, 5, 2, "b"),
		rawPacket(8+1, 5, 3, "c"),
	}, nil)
	var d Decoder
	s := &chunkSource{}
	s.feed(stream)

	_, _, err := d.Next(s)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Code != 5 || ce.Want != 1 || ce.Got != Checksum([]byte("a")) {
		t.Fatalf("first bad packet: %v", err)
	}
	if !strings.Contains(err.Error(), "code 5") || !strings.Contains(err.Error(), "0x00000001") {
		t.Errorf("message %q does not name the code and CRC", err)
	}
	if d.BadPackets() != 1 {
		t.Fatalf("BadPackets = %d, want 1", d.BadPackets())
	}
	d.Next(s)
	_, _, err = d.Next(s)
	if !errors.Is(err, ErrTooManyBadPackets) || !Fatal(err) || d.BadPackets() != 3 {
		t.Fatalf("third bad packet: %v, BadPackets %d", err, d.BadPackets())
	}

	// Reset readies the Decoder for a new connection.
	d.Reset()
	if d.BadPackets() != 0 || d.Err() != nil {
		t.Fatalf("after Reset: BadPackets %d, Err %v", d.BadPackets(), d.Err())
	}
	s.feed(enc(result{code: 3, body: "new"}))
	if code, body, err := d.Next(s); err != nil || code != 3 || string(body) != "new" {
		t.Fatalf("after Reset: %d %q %v", code, body, err)
	}
}

func TestLengthErrorMessage(t *testing.T) {
	var d Decoder
	s := &chunkSource{}
	s.feed(rawPacket(20000, 1, 0, ""))
	_, _, err := d.Next(s)
	var le *LengthError
	if !errors.As(err, &le) || le.Length != 20000 || le.Max != DefaultMaxPacket {
		t.Fatalf("got %v", err)
	}
	if want := "packet: length 20000 out of range [8, 16384]"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if !errors.Is(err, ErrLength) || errors.Is(err, ErrChecksum) {
		t.Errorf("errors.Is wrong for %v", err)
	}
}

// brokenSource claims bytes it does not deliver.
type brokenSource struct {
	chunkSource
	lie int
}

func (s *brokenSource) InboundBuffered() int { return s.chunkSource.InboundBuffered() + s.lie }

func TestDecoderSourceContract(t *testing.T) {
	tests := []struct {
		name   string
		stream []byte
		lie    int
	}{
		{name: "short peek", stream: []byte{0, 8, 0}, lie: 5},
		{name: "short next", stream: enc(result{code: 1, body: "hello"})[:10], lie: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			s := &brokenSource{lie: tt.lie}
			s.feed(tt.stream)
			_, _, err := d.Next(s)
			if !errors.Is(err, ErrSource) || !Fatal(err) {
				t.Fatalf("got %v, want ErrSource", err)
			}
			if _, _, again := d.Next(s); again != err {
				t.Fatalf("not sticky: %v", again)
			}
		})
	}
}

func TestFatal(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		fatal bool
	}{
		{name: "nil", err: nil, fatal: false},
		{name: "incomplete", err: ErrIncomplete, fatal: false},
		{name: "checksum", err: &ChecksumError{Code: 1, Want: 2, Got: 3}, fatal: false},
		{name: "length", err: &LengthError{Length: 3, Max: 16384}, fatal: true},
		{name: "too many bad packets", err: ErrTooManyBadPackets, fatal: true},
		{name: "source", err: ErrSource, fatal: true},
		{name: "io error", err: errors.New("connection reset"), fatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fatal(tt.err); got != tt.fatal {
				t.Errorf("Fatal(%v) = %v, want %v", tt.err, got, tt.fatal)
			}
		})
	}
}
