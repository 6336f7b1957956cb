package packet

import (
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{0, 64, 512, 4096, DefaultMaxPacket - HeaderSize}

// benchStream is 64 packets with bodies of size bytes.
func benchStream(size int) []byte {
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i)
	}
	var stream []byte
	for range 64 {
		stream, _ = Append(stream, 5, body)
	}
	return stream
}

// BenchmarkDecoderNext measures framing plus CRC per packet, with the
// whole packet already buffered (the common case on a busy connection).
// Bytes/s counts the whole packet.
func BenchmarkDecoderNext(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			src := newLoopSource(benchStream(size))
			var d Decoder
			b.SetBytes(int64(HeaderSize + size))
			b.ReportAllocs()
			for b.Loop() {
				src.rewindIfEmpty()
				if _, _, err := d.Next(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecoderIncomplete measures the cost of asking too early: a
// header buffered, the body not yet.
func BenchmarkDecoderIncomplete(b *testing.B) {
	src := newLoopSource(benchStream(64)[:HeaderSize+10])
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.Next(src); err != ErrIncomplete {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			body := make([]byte, size)
			buf := make([]byte, 0, HeaderSize+size)
			b.SetBytes(int64(HeaderSize + size))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = Append(buf[:0], 5, body)
			}
		})
	}
}

// BenchmarkReaderReadPacket reads from an in-memory stream, so it measures
// the Reader and not a socket.
func BenchmarkReaderReadPacket(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			r := NewReader(&loopReader{stream: benchStream(size)})
			b.SetBytes(int64(HeaderSize + size))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.ReadPacket(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWritePacket(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			body := make([]byte, size)
			b.SetBytes(int64(HeaderSize + size))
			b.ReportAllocs()
			for b.Loop() {
				if err := WritePacket(io.Discard, 5, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
