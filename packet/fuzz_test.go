package packet

import (
	"testing"
)

// splitSizes turns fuzz bytes into read sizes of 1 to 256 bytes (0 means
// 256, so a long zero run still makes progress).
func splitSizes(b []byte) []int {
	sizes := make([]int, len(b))
	for i, c := range b {
		sizes[i] = int(c)
		if c == 0 {
			sizes[i] = 256
		}
	}
	return sizes
}

// FuzzDecoder feeds arbitrary bytes in fuzz-chosen reads. drain checks the
// per-call invariants (no panic, bodies within MaxPacket, consumed plus
// remaining equals input, nothing consumed on ErrIncomplete or a length
// error, fatal errors sticky); here we add that the outcome does not depend
// on how the stream was split.
func FuzzDecoder(f *testing.F) {
	for _, tt := range hostileTests {
		f.Add(tt.stream, []byte{1, 3, 8, 20}, uint16(tt.dec.MaxPacket), int8(tt.dec.MaxBadPackets))
	}
	f.Add(enc(result{code: 5, body: "abc"}, result{code: 0}), []byte{9}, uint16(0), int8(0))
	f.Fuzz(func(t *testing.T, stream, splits []byte, maxPacket uint16, maxBad int8) {
		proto := Decoder{MaxPacket: int(maxPacket), MaxBadPackets: int(maxBad)}
		whole := decodeChunks(t, proto, stream, nil)
		split := decodeChunks(t, proto, stream, splitSizes(splits))
		if !sameResults(whole, split) {
			diffResults(t, split, whole)
		}
		bad := 0
		for _, r := range whole {
			if r.err == ErrChecksum || r.err == ErrTooManyBadPackets {
				bad++
			}
		}
		if limit := proto.MaxBadPackets; limit > 0 && bad > limit || limit == 0 && bad > DefaultMaxBadPackets {
			t.Fatalf("%d bad packets with MaxBadPackets %d", bad, limit)
		}
	})
}

// FuzzRoundTrip cuts bodies out of fuzz bytes, encodes them, and checks the
// stream decodes back to exactly those packets however it is split.
func FuzzRoundTrip(f *testing.F) {
	for _, tt := range hostileTests {
		for _, r := range tt.want {
			if r.err == nil {
				f.Add([]byte(r.body), []byte{byte(len(r.body)), 0, 3}, []byte{5, 1, 200}, r.code)
			}
		}
	}
	f.Add([]byte(`{"username":"alice","password":"correct horse"}`), []byte{10, 0, 255}, []byte{1, 2, 3}, uint16(6))
	f.Fuzz(func(t *testing.T, data, cuts, splits []byte, code uint16) {
		var want []result
		for i := 0; len(data) > 0 || i < len(cuts); i++ {
			n := min(len(data), MaxPacketLimit-HeaderSize)
			if i < len(cuts) {
				n = min(n, int(cuts[i]))
			}
			want = append(want, result{code: code + uint16(i), body: string(data[:n])})
			data = data[n:]
		}
		stream := enc(want...)
		got := decodeChunks(t, Decoder{MaxPacket: MaxPacketLimit}, stream, splitSizes(splits))
		diffResults(t, got, want)
	})
}
