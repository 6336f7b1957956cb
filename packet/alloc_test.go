package packet

import (
	"io"
	"testing"
)

// loopSource serves the same stream over and over without allocating: a
// zero-cost Source for allocation tests and benchmarks.
type loopSource = sliceSource

func newLoopSource(stream []byte) *loopSource {
	return &sliceSource{buf: stream, w: len(stream)}
}

func (s *sliceSource) rewindIfEmpty() {
	if s.r == s.w {
		s.r = 0
	}
}

// loopReader is an io.Reader that repeats a stream forever.
type loopReader struct {
	stream []byte
	off    int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.stream[r.off:])
	r.off = (r.off + n) % len(r.stream)
	return n, nil
}

func TestAllocs(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("allocation counts are meaningless under -race and -cover")
	}
	stream := enc(result{code: 5, body: "hello, world"}, result{code: 0}, result{code: 6, body: string(make([]byte, 3000))})
	tests := []struct {
		name string
		run  func(t *testing.T) func()
	}{
		{name: "Decoder.Next", run: func(t *testing.T) func() {
			var d Decoder
			src := newLoopSource(stream)
			return func() {
				src.rewindIfEmpty()
				if _, _, err := d.Next(src); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "Decoder.Next incomplete", run: func(t *testing.T) func() {
			var d Decoder
			src := newLoopSource(stream[:HeaderSize+3])
			return func() {
				if _, _, err := d.Next(src); err != ErrIncomplete {
					t.Fatal(err)
				}
			}
		}},
		{name: "Append into a reused buffer", run: func(t *testing.T) func() {
			buf := make([]byte, 0, 4096)
			body := make([]byte, 1000)
			return func() {
				var err error
				if buf, err = Append(buf[:0], 7, body); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "Reader.ReadPacket", run: func(t *testing.T) func() {
			r := NewReader(&loopReader{stream: stream})
			return func() {
				if _, _, err := r.ReadPacket(); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "WritePacket", run: func(t *testing.T) func() {
			body := make([]byte, 1000)
			return func() {
				if err := WritePacket(io.Discard, 7, body); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.run(t)
			f() // warm up: buffers grow, pools fill
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}
