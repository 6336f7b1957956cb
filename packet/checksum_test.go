package packet

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestChecksumIsCRC32IEEE: Checksum is hash/crc32's IEEE CRC for every
// length around the small-body path's limits, at every alignment.
func TestChecksumIsCRC32IEEE(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300+8)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for off := range 8 {
		for n := range 300 {
			p := buf[off : off+n]
			if got, want := Checksum(p), crc32.ChecksumIEEE(p); got != want {
				t.Fatalf("Checksum of %d bytes at offset %d = %#08x, want %#08x", n, off, got, want)
			}
		}
	}
	if got := Checksum([]byte("123456789")); got != 0xcbf43926 {
		t.Fatalf("check value %#08x, want 0xcbf43926 (CRC-32/ISO-HDLC)", got)
	}
}

func FuzzChecksum(f *testing.F) {
	for _, s := range []string{"", "a", "123456789", "exactly 8", "{\"username\":\"alice\",\"password\":\"correct horse\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, want := Checksum(p), crc32.ChecksumIEEE(p); got != want {
			t.Fatalf("Checksum = %#08x, want %#08x", got, want)
		}
	})
}

func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{8, 24, 56, 63, 64, 512} {
		p := make([]byte, n)
		for _, impl := range []struct {
			name string
			f    func([]byte) uint32
		}{{"packet", Checksum}, {"crc32", crc32.ChecksumIEEE}} {
			b.Run(fmt.Sprintf("%dB/%s", n, impl.name), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var sink uint32
				for b.Loop() {
					sink += impl.f(p)
				}
				_ = sink
			})
		}
	}
}
