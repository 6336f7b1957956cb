package buffer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/iotest"
	"unsafe"
)

// pat returns n bytes of a pattern that differs from chunk to chunk, so a
// byte read from the wrong place shows.
func pat(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i % 251)
	}
	return p
}

// filled returns a Buffer on a fresh pool of chunk size cs holding pat(n),
// after writing skip extra bytes first and discarding them (to move the read
// mark off the chunk start).
func filled(t testing.TB, cs, n, skip int) *Buffer {
	t.Helper()
	b := New(NewPool(cs))
	b.Write(append(make([]byte, skip), pat(n)...))
	if _, err := b.Discard(skip); err != nil {
		t.Fatal(err)
	}
	return b
}

func contents(b *Buffer) []byte { return bytes.Join(b.Slices(nil, -1), nil) }

func TestNewPool(t *testing.T) {
	tests := []struct {
		size      int
		wantPanic bool
	}{
		{size: -1, wantPanic: true},
		{size: 0, wantPanic: true},
		{size: 63, wantPanic: true},
		{size: 64},
		{size: 100},
		{size: 4096},
		{size: 64 << 10},
		{size: 32 << 20}, // above the largest pooled class: only class 0
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			var p *Pool
			if got := panics(func() { p = NewPool(tt.size) }); got != tt.wantPanic {
				t.Fatalf("NewPool(%d) panicked = %v, want %v", tt.size, got, tt.wantPanic)
			}
			if tt.wantPanic {
				return
			}
			if p.ChunkSize() != tt.size {
				t.Errorf("ChunkSize() = %d, want %d", p.ChunkSize(), tt.size)
			}
			for _, n := range []int{1, tt.size, tt.size + 1, 3 * tt.size, maxPooledBlock + 1} {
				c := p.block(n)
				if len(c.buf) < n {
					t.Errorf("block(%d) has %d bytes", n, len(c.buf))
				}
				if n <= tt.size && len(c.buf) != tt.size {
					t.Errorf("block(%d) = %d bytes, want a regular chunk", n, len(c.buf))
				}
				c.release()
			}
		})
	}
}

func TestZeroValueUsesDefaultPool(t *testing.T) {
	if DefaultPool.ChunkSize() != 4096 {
		t.Fatalf("DefaultPool.ChunkSize() = %d", DefaultPool.ChunkSize())
	}
	var b Buffer
	b.WriteByte('x')
	s := b.Reserve(0, nil)
	if len(s) != 1 || len(s[0]) != 4095 {
		t.Fatalf("zero Buffer: Reserve(0) after one byte = %d slices, first %d bytes; want the 4095-byte tail", len(s), len(s[0]))
	}
	b.Commit(0)
	b.Reset()
	if b.Chunks() != 0 {
		t.Fatalf("Chunks() = %d after Reset", b.Chunks())
	}
}

func TestSizeof(t *testing.T) {
	size := unsafe.Sizeof(Buffer{})
	t.Logf("unsafe.Sizeof(Buffer{}) = %d, chunk header = %d", size, unsafe.Sizeof(chunk{}))
	if size > 64 {
		t.Fatalf("Buffer is %d bytes, budget 64", size)
	}
}

func TestInit(t *testing.T) {
	type conn struct {
		fd  int
		in  Buffer
		out Buffer
	}
	p := NewPool(128)
	var c conn
	c.in.WriteString("from the default pool")
	c.in.Discard(5)
	c.in.Init(p)
	if c.in.Len() != 0 || c.in.Tell() != 0 || c.in.Chunks() != 0 {
		t.Fatalf("after Init: Len %d Tell %d Chunks %d", c.in.Len(), c.in.Tell(), c.in.Chunks())
	}
	if s := c.in.Reserve(1, nil); len(s) != 1 || len(s[0]) != 128 {
		t.Fatalf("Init(p) buffer reserved %d bytes, want p's 128-byte chunk", len(s[0]))
	}
	c.in.Commit(0)
	c.out.Init(nil)
	if s := c.out.Reserve(1, nil); len(s[0]) != DefaultPool.ChunkSize() {
		t.Fatalf("Init(nil) buffer reserved %d bytes, want a DefaultPool chunk", len(s[0]))
	}
	c.out.Commit(0)
}

func TestWriteRead(t *testing.T) {
	tests := []struct {
		name       string
		writes     []int // sizes of successive writes (Write, WriteString alternate)
		read       int   // len(p) for one Read
		wantN      int
		wantErr    error
		wantChunks int // after the Read
	}{
		{name: "empty buffer", read: 10, wantErr: io.EOF},
		{name: "empty buffer empty p", read: 0},
		{name: "one byte", writes: []int{1}, read: 10, wantN: 1},
		{name: "partial read", writes: []int{10}, read: 4, wantN: 4, wantChunks: 1},
		{name: "exactly one chunk", writes: []int{64}, read: 64, wantN: 64},
		{name: "chunk plus one", writes: []int{65}, read: 64, wantN: 64, wantChunks: 1},
		{name: "three chunks read two", writes: []int{100, 92}, read: 128, wantN: 128, wantChunks: 1},
		{name: "three chunks read all", writes: []int{1, 63, 64, 64}, read: 1000, wantN: 192},
		{name: "read zero from data", writes: []int{5}, read: 0, wantN: 0, wantChunks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(NewPool(64))
			var want []byte
			for i, n := range tt.writes {
				p := pat(n)
				var k int
				var err error
				if i%2 == 0 {
					k, err = b.Write(p)
				} else {
					k, err = b.WriteString(string(p))
				}
				if k != n || err != nil {
					t.Fatalf("write %d = %d, %v", n, k, err)
				}
				want = append(want, p...)
			}
			if b.Len() != len(want) {
				t.Fatalf("Len() = %d, want %d", b.Len(), len(want))
			}
			p := make([]byte, tt.read)
			n, err := b.Read(p)
			if n != tt.wantN || err != tt.wantErr {
				t.Fatalf("Read = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if !bytes.Equal(p[:n], want[:n]) {
				t.Fatalf("Read got %v, want %v", p[:n], want[:n])
			}
			if b.Chunks() != tt.wantChunks || b.Tell() != int64(n) {
				t.Fatalf("after Read: Chunks %d Tell %d; want %d, %d", b.Chunks(), b.Tell(), tt.wantChunks, n)
			}
			if got := contents(b); !bytes.Equal(got, want[n:]) {
				t.Fatalf("remaining %v, want %v", got, want[n:])
			}
		})
	}
}

func TestPeek(t *testing.T) {
	tests := []struct {
		name     string
		fill     int // bytes in the buffer
		skip     int // bytes written and discarded first
		n        int
		wantN    int
		wantErr  error
		wantCopy bool // the bytes span chunks, so Peek must linearize
	}{
		{name: "empty n=0", n: 0},
		{name: "empty n=1", n: 1, wantErr: io.ErrShortBuffer},
		{name: "negative", fill: 10, n: -1, wantErr: ErrNegativeCount},
		{name: "n=0", fill: 10, n: 0},
		{name: "within chunk", fill: 10, n: 5, wantN: 5},
		{name: "whole chunk", fill: 64, n: 64, wantN: 64},
		{name: "rest of a chunk", fill: 100, skip: 10, n: 54, wantN: 54},
		{name: "one past the chunk", fill: 100, skip: 10, n: 55, wantN: 55, wantCopy: true},
		{name: "two chunks exactly", fill: 128, n: 128, wantN: 128, wantCopy: true},
		{name: "three chunks", fill: 300, skip: 30, n: 200, wantN: 200, wantCopy: true},
		{name: "more than Len", fill: 150, n: 151, wantN: 150, wantErr: io.ErrShortBuffer, wantCopy: true},
		{name: "more than Len one chunk", fill: 20, n: 64, wantN: 20, wantErr: io.ErrShortBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			want := pat(tt.fill)[:tt.wantN]
			first := b.Slices(nil, 1)
			p, err := b.Peek(tt.n)
			if err != tt.wantErr || !bytes.Equal(p, want) {
				t.Fatalf("Peek(%d) = %v, %v; want %v, %v", tt.n, p, err, want, tt.wantErr)
			}
			if b.Len() != tt.fill || b.Tell() != int64(tt.skip) {
				t.Fatalf("Peek consumed: Len %d Tell %d", b.Len(), b.Tell())
			}
			if len(p) == 0 {
				return
			}
			if copied := &p[0] != &first[0][0]; copied != tt.wantCopy {
				t.Fatalf("Peek copied = %v, want %v", copied, tt.wantCopy)
			}
			if cap(p) != len(p) {
				t.Fatalf("cap(p) = %d, want %d: append could write into the buffer", cap(p), len(p))
			}
			q, _ := b.Peek(tt.wantN)
			if &q[0] != &p[0] {
				t.Fatalf("second Peek of the same bytes copied again")
			}
			// The first slice handed out before the copy is still intact.
			if !bytes.Equal(first[0], pat(tt.fill)[:len(first[0])]) {
				t.Fatalf("Peek disturbed an earlier slice")
			}
		})
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name    string
		fill    int
		skip    int
		n       int
		wantN   int
		wantErr error
	}{
		{name: "empty n=0", n: 0},
		{name: "empty n=1", n: 1, wantErr: io.ErrShortBuffer},
		{name: "negative", fill: 10, n: -5, wantErr: ErrNegativeCount},
		{name: "n=0", fill: 10, n: 0},
		{name: "within chunk", fill: 10, n: 3, wantN: 3},
		{name: "exactly the chunk", fill: 64, n: 64, wantN: 64},
		{name: "to the chunk boundary", fill: 100, skip: 20, n: 44, wantN: 44},
		{name: "across boundary", fill: 100, skip: 20, n: 45, wantN: 45},
		{name: "three chunks", fill: 400, skip: 1, n: 300, wantN: 300},
		{name: "everything", fill: 200, n: 200, wantN: 200},
		{name: "more than Len", fill: 200, n: 1000, wantN: 200, wantErr: io.ErrShortBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			p, err := b.Next(tt.n)
			if err != tt.wantErr || !bytes.Equal(p, pat(tt.fill)[:tt.wantN]) {
				t.Fatalf("Next(%d) = %d bytes, %v; want %d, %v", tt.n, len(p), err, tt.wantN, tt.wantErr)
			}
			if cap(p) != len(p) {
				t.Fatalf("cap(p) = %d, want %d", cap(p), len(p))
			}
			if b.Len() != tt.fill-tt.wantN || b.Tell() != int64(tt.skip+tt.wantN) {
				t.Fatalf("after Next: Len %d Tell %d", b.Len(), b.Tell())
			}
			if got := contents(b); !bytes.Equal(got, pat(tt.fill)[tt.wantN:]) {
				t.Fatalf("remaining data wrong")
			}
		})
	}
}

// TestNextResultLifetime checks the documented lifetime: Next's bytes stay
// valid until the next modifying call even when Next drained their chunk and
// other buffers on the same pool churn chunks meanwhile; Release then gives
// the chunk back.
func TestNextResultLifetime(t *testing.T) {
	tests := []struct {
		name   string
		fill   int
		n      int
		keepOn func(b *Buffer) // read-only calls between Next and the check
	}{
		{name: "drains one chunk", fill: 64, n: 64},
		{name: "drains all of a linearized span", fill: 150, n: 150},
		{name: "partial chunk", fill: 100, n: 30},
		{name: "read-only calls in between", fill: 130, n: 64, keepOn: func(b *Buffer) {
			b.Peek(b.Len()) // linearizes the rest
			b.PeekSlices(5, nil)
			b.Index(7)
			b.Slices(nil, -1)
			_ = b.Len() + b.Chunks() + int(b.Tell())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(64)
			b := New(p)
			b.Write(pat(tt.fill))
			got, err := b.Next(tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if tt.keepOn != nil {
				tt.keepOn(b)
			}
			other := New(p)
			for range 8 {
				other.Write(bytes.Repeat([]byte{0xEE}, 1000))
				other.Reset()
			}
			if !bytes.Equal(got, pat(tt.fill)[:tt.n]) {
				t.Fatalf("Next result overwritten before the next modifying call")
			}
			b.Release()
			if b.Len() == 0 && b.Chunks() != 0 {
				t.Fatalf("after Release of a drained buffer: Chunks() = %d", b.Chunks())
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	tests := []struct {
		name       string
		fill, n    int
		wantN      int
		wantErr    error
		wantChunks int
	}{
		{name: "empty n=0", n: 0},
		{name: "empty n=1", n: 1, wantErr: io.ErrShortBuffer},
		{name: "negative", fill: 5, n: -1, wantErr: ErrNegativeCount, wantChunks: 1},
		{name: "within chunk", fill: 10, n: 4, wantN: 4, wantChunks: 1},
		{name: "exactly one chunk", fill: 128, n: 64, wantN: 64, wantChunks: 1},
		{name: "three chunks partially", fill: 250, n: 200, wantN: 200, wantChunks: 1},
		{name: "everything", fill: 250, n: 250, wantN: 250},
		{name: "more than Len", fill: 70, n: 71, wantN: 70, wantErr: io.ErrShortBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, 0)
			n, err := b.Discard(tt.n)
			if n != tt.wantN || err != tt.wantErr {
				t.Fatalf("Discard(%d) = %d, %v; want %d, %v", tt.n, n, err, tt.wantN, tt.wantErr)
			}
			if b.Chunks() != tt.wantChunks || b.Tell() != int64(n) || b.Len() != tt.fill-n {
				t.Fatalf("after Discard: Chunks %d Tell %d Len %d", b.Chunks(), b.Tell(), b.Len())
			}
		})
	}
}

func TestIndex(t *testing.T) {
	tests := []struct {
		name       string
		fill, skip int
		c          byte
		want       int
		wantFunc   int // IndexFunc(x == c)
	}{
		{name: "empty", c: 0, want: -1, wantFunc: -1},
		{name: "first byte", fill: 10, c: 0, want: 0, wantFunc: 0},
		{name: "in first chunk", fill: 10, c: 7, want: 7, wantFunc: 7},
		{name: "absent", fill: 10, c: 200, want: -1, wantFunc: -1},
		{name: "last byte of a chunk", fill: 100, c: 63, want: 63, wantFunc: 63},
		{name: "first byte of second chunk", fill: 100, c: 64, want: 64, wantFunc: 64},
		{name: "third chunk after a skip", fill: 250, skip: 40, c: 140, want: 140, wantFunc: 140},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			if got := b.Index(tt.c); got != tt.want {
				t.Errorf("Index(%d) = %d, want %d", tt.c, got, tt.want)
			}
			if got := b.IndexFunc(func(x byte) bool { return x == tt.c }); got != tt.wantFunc {
				t.Errorf("IndexFunc = %d, want %d", got, tt.wantFunc)
			}
		})
	}
}

func TestAt(t *testing.T) {
	tests := []struct {
		name       string
		fill, skip int
		i          int
		wantPanic  bool
	}{
		{name: "empty", i: 0, wantPanic: true},
		{name: "negative", fill: 10, i: -1, wantPanic: true},
		{name: "at Len", fill: 10, i: 10, wantPanic: true},
		{name: "first", fill: 10, i: 0},
		{name: "last of first chunk", fill: 200, skip: 10, i: 53},
		{name: "first of second chunk", fill: 200, skip: 10, i: 54},
		{name: "middle chunk", fill: 300, skip: 10, i: 150},
		{name: "last chunk", fill: 300, skip: 10, i: 290},
		{name: "last byte", fill: 300, skip: 10, i: 299},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			var got byte
			if p := panics(func() { got = b.At(tt.i) }); p != tt.wantPanic {
				t.Fatalf("At(%d) panicked = %v, want %v", tt.i, p, tt.wantPanic)
			}
			if !tt.wantPanic && got != pat(tt.fill)[tt.i] {
				t.Fatalf("At(%d) = %d, want %d", tt.i, got, pat(tt.fill)[tt.i])
			}
		})
	}
	t.Run("panic value", func(t *testing.T) {
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, ErrIndexRange) {
				t.Fatalf("At panicked with %v, want ErrIndexRange", err)
			}
		}()
		New(nil).At(0)
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name       string
		fill, n    int
		wantLen    int
		wantChunks int
		wantPanic  bool
	}{
		{name: "empty to 0", n: 0},
		{name: "empty beyond", n: 5},
		{name: "negative", fill: 10, n: -1, wantPanic: true},
		{name: "beyond Len", fill: 100, n: 101, wantLen: 100, wantChunks: 2},
		{name: "at Len", fill: 100, n: 100, wantLen: 100, wantChunks: 2},
		{name: "to zero", fill: 100, n: 0},
		{name: "at chunk boundary", fill: 200, n: 64, wantLen: 64, wantChunks: 1},
		{name: "one past boundary", fill: 200, n: 65, wantLen: 65, wantChunks: 2},
		{name: "inside third chunk", fill: 300, n: 150, wantLen: 150, wantChunks: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, 0)
			if p := panics(func() { b.Truncate(tt.n) }); p != tt.wantPanic {
				t.Fatalf("Truncate(%d) panicked = %v", tt.n, p)
			}
			if tt.wantPanic {
				return
			}
			if b.Len() != tt.wantLen || b.Chunks() != tt.wantChunks || b.Tell() != 0 {
				t.Fatalf("after Truncate(%d): Len %d Chunks %d Tell %d; want %d, %d, 0",
					tt.n, b.Len(), b.Chunks(), b.Tell(), tt.wantLen, tt.wantChunks)
			}
			if !bytes.Equal(contents(b), pat(tt.fill)[:tt.wantLen]) {
				t.Fatalf("wrong bytes kept")
			}
			// The tail's free space is reused by the next write.
			b.WriteString("xy")
			if got := contents(b); string(got[len(got)-2:]) != "xy" || len(got) != tt.wantLen+2 {
				t.Fatalf("write after Truncate: %v", got)
			}
		})
	}
}

func TestSeekTell(t *testing.T) {
	tests := []struct {
		name     string
		fill     int
		skip     int // consumed before the Seek
		offset   int64
		whence   int
		wantPos  int64
		wantErr  error
		wantTell int64
	}{
		{name: "start at Tell", fill: 10, skip: 5, offset: 5, whence: io.SeekStart, wantPos: 5, wantTell: 5},
		{name: "start forward", fill: 100, skip: 5, offset: 70, whence: io.SeekStart, wantPos: 70, wantTell: 70},
		{name: "start to end", fill: 100, skip: 5, offset: 105, whence: io.SeekStart, wantPos: 105, wantTell: 105},
		{name: "start backward", fill: 100, skip: 5, offset: 4, whence: io.SeekStart, wantPos: 5, wantErr: ErrSeekBackward, wantTell: 5},
		{name: "start past end", fill: 100, skip: 5, offset: 106, whence: io.SeekStart, wantPos: 5, wantErr: ErrSeekPastEnd, wantTell: 5},
		{name: "current zero", fill: 10, offset: 0, whence: io.SeekCurrent},
		{name: "current forward", fill: 200, skip: 3, offset: 150, whence: io.SeekCurrent, wantPos: 153, wantTell: 153},
		{name: "current backward", fill: 10, skip: 3, offset: -1, whence: io.SeekCurrent, wantPos: 3, wantErr: ErrSeekBackward, wantTell: 3},
		{name: "current past end", fill: 10, offset: 11, whence: io.SeekCurrent, wantErr: ErrSeekPastEnd},
		{name: "end zero", fill: 100, skip: 2, offset: 0, whence: io.SeekEnd, wantPos: 102, wantTell: 102},
		{name: "end back", fill: 100, skip: 2, offset: -30, whence: io.SeekEnd, wantPos: 72, wantTell: 72},
		{name: "end back to Tell", fill: 100, skip: 2, offset: -100, whence: io.SeekEnd, wantPos: 2, wantTell: 2},
		{name: "end before Tell", fill: 100, skip: 2, offset: -101, whence: io.SeekEnd, wantPos: 2, wantErr: ErrSeekBackward, wantTell: 2},
		{name: "end positive", fill: 100, offset: 1, whence: io.SeekEnd, wantErr: ErrSeekPastEnd},
		{name: "huge offset", fill: 10, offset: 1 << 62, whence: io.SeekCurrent, wantErr: ErrSeekPastEnd},
		{name: "most negative", fill: 10, offset: -1 << 63, whence: io.SeekEnd, wantErr: ErrSeekBackward},
		{name: "bad whence", fill: 10, offset: 0, whence: 7, wantErr: ErrWhence},
		{name: "empty buffer", offset: 0, whence: io.SeekCurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(NewPool(64))
			b.Write(pat(tt.fill + tt.skip))
			b.Discard(tt.skip)
			pos, err := b.Seek(tt.offset, tt.whence)
			if pos != tt.wantPos || err != tt.wantErr {
				t.Fatalf("Seek(%d, %d) = %d, %v; want %d, %v", tt.offset, tt.whence, pos, err, tt.wantPos, tt.wantErr)
			}
			if b.Tell() != tt.wantTell || b.Len() != tt.fill+tt.skip-int(tt.wantTell) {
				t.Fatalf("after Seek: Tell %d Len %d", b.Tell(), b.Len())
			}
		})
	}
	t.Run("Reset restarts the stream", func(t *testing.T) {
		b := New(NewPool(64))
		b.Write(pat(10))
		b.Discard(4)
		b.Reset()
		if b.Tell() != 0 {
			t.Fatalf("Tell after Reset = %d", b.Tell())
		}
	})
}

func TestReserveCommit(t *testing.T) {
	tests := []struct {
		name       string
		fill       int // bytes in the buffer before Reserve
		n          int
		commit     int
		wantSlices []int // lengths of the reserved slices
		wantChunks int   // after Commit
	}{
		{name: "empty n=0 commit 0", n: 0, commit: 0, wantSlices: []int{64}},
		{name: "empty n=1", n: 1, commit: 1, wantSlices: []int{64}, wantChunks: 1},
		{name: "empty exactly a chunk", n: 64, commit: 64, wantSlices: []int{64}, wantChunks: 1},
		{name: "empty three chunks partial commit", n: 129, commit: 70, wantSlices: []int{64, 64, 64}, wantChunks: 2},
		{name: "empty three chunks commit 0", n: 150, commit: 0, wantSlices: []int{64, 64, 64}},
		{name: "tail free space only", fill: 10, n: 54, commit: 54, wantSlices: []int{54}, wantChunks: 1},
		{name: "tail free n=0", fill: 10, n: 0, commit: 3, wantSlices: []int{54}, wantChunks: 1},
		{name: "tail plus fresh", fill: 10, n: 100, commit: 100, wantSlices: []int{54, 64}, wantChunks: 2},
		{name: "tail plus fresh commit into tail only", fill: 10, n: 100, commit: 20, wantSlices: []int{54, 64}, wantChunks: 1},
		{name: "full tail", fill: 64, n: 1, commit: 1, wantSlices: []int{64}, wantChunks: 2},
		{name: "full tail commit 0", fill: 64, n: 1, commit: 0, wantSlices: []int{64}, wantChunks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, 0)
			s := b.Reserve(tt.n, make([][]byte, 0, 4))
			var lens []int
			for _, p := range s {
				lens = append(lens, len(p))
			}
			if fmt.Sprint(lens) != fmt.Sprint(tt.wantSlices) {
				t.Fatalf("Reserve(%d) slices %v, want %v", tt.n, lens, tt.wantSlices)
			}
			data := bytes.Repeat([]byte{0xAB}, tt.commit)
			rest := data
			for _, p := range s {
				rest = rest[copy(p, rest):]
			}
			b.Commit(tt.commit)
			if b.Chunks() != tt.wantChunks || b.Len() != tt.fill+tt.commit {
				t.Fatalf("after Commit(%d): Chunks %d Len %d; want %d, %d", tt.commit, b.Chunks(), b.Len(), tt.wantChunks, tt.fill+tt.commit)
			}
			want := append(pat(tt.fill), data...)
			if !bytes.Equal(contents(b), want) {
				t.Fatalf("contents after Commit wrong")
			}
		})
	}
}

func TestCommitPanics(t *testing.T) {
	tests := []struct {
		name    string
		between func(b *Buffer) // after Reserve(100), before Commit
		commit  int
		wantOK  bool
	}{
		{name: "negative", commit: -1},
		{name: "more than reserved", commit: 119},
		{name: "all reserved", commit: 118, wantOK: true}, // 54 free in the tail + one chunk
		{name: "read-only calls in between", between: func(b *Buffer) {
			b.Peek(5) // within one chunk: no copy
			b.Slices(nil, -1)
			b.Index(1)
			b.At(0)
		}, commit: 10, wantOK: true},
		{name: "write in between", between: func(b *Buffer) { b.WriteByte(1) }, commit: 1},
		{name: "second Reserve replaces the first", between: func(b *Buffer) { b.Reserve(1, nil) }, commit: 54, wantOK: true},
		{name: "linearizing Peek in between", between: func(b *Buffer) { b.Peek(b.Len()) }, commit: 1},
		{name: "commit 0 after cancel is fine", between: func(b *Buffer) { b.Discard(1) }, commit: 0, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(NewPool(64))
			b.Write(pat(74)) // two chunks, 54 bytes free in the tail
			b.Reserve(100, nil)
			if tt.between != nil {
				tt.between(b)
			}
			var perr error
			func() {
				defer func() {
					if r := recover(); r != nil {
						perr, _ = r.(error)
						if perr == nil {
							perr = fmt.Errorf("%v", r)
						}
					}
				}()
				b.Commit(tt.commit)
			}()
			if tt.wantOK != (perr == nil) {
				t.Fatalf("Commit(%d) panic = %v, want ok = %v", tt.commit, perr, tt.wantOK)
			}
			if perr != nil && !errors.Is(perr, ErrCommitRange) {
				t.Fatalf("Commit panicked with %v, want ErrCommitRange", perr)
			}
			b.Release()
			if err := b.check(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("without Reserve", func(t *testing.T) {
		if !panics(func() { New(nil).Commit(1) }) {
			t.Fatal("Commit(1) without Reserve did not panic")
		}
		New(nil).Commit(0) // allowed: nothing to publish
	})
}

func TestSlicesPeekSlices(t *testing.T) {
	tests := []struct {
		name       string
		fill, skip int
		max        int
		wantLens   []int
		wantErr    error // of PeekSlices(max)
	}{
		{name: "empty all", max: -1},
		{name: "empty some", max: 5, wantErr: io.ErrShortBuffer},
		{name: "max 0", fill: 10, max: 0},
		{name: "within chunk", fill: 10, max: 5, wantLens: []int{5}},
		{name: "exactly chunk", fill: 64, max: 64, wantLens: []int{64}},
		{name: "all of three chunks", fill: 180, skip: 10, max: -1, wantLens: []int{54, 64, 62}},
		{name: "cut in third chunk", fill: 180, skip: 10, max: 120, wantLens: []int{54, 64, 2}},
		{name: "more than Len", fill: 70, max: 100, wantLens: []int{64, 6}, wantErr: io.ErrShortBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			dst := [][]byte{[]byte("keep")}
			s := b.Slices(dst, tt.max)
			if string(s[0]) != "keep" {
				t.Fatalf("Slices did not append to dst")
			}
			var lens []int
			for _, p := range s[1:] {
				lens = append(lens, len(p))
				if cap(p) != len(p) {
					t.Fatalf("slice cap %d > len %d", cap(p), len(p))
				}
			}
			if fmt.Sprint(lens) != fmt.Sprint(tt.wantLens) {
				t.Fatalf("Slices(%d) lens %v, want %v", tt.max, lens, tt.wantLens)
			}
			total := 0
			for _, l := range lens {
				total += l
			}
			if !bytes.Equal(bytes.Join(s[1:], nil), pat(tt.fill)[:total]) {
				t.Fatalf("Slices bytes wrong")
			}
			if tt.max >= 0 {
				ps, err := b.PeekSlices(tt.max, nil)
				if err != tt.wantErr || !bytes.Equal(bytes.Join(ps, nil), pat(tt.fill)[:total]) {
					t.Fatalf("PeekSlices(%d) err = %v, want %v", tt.max, err, tt.wantErr)
				}
			}
			if b.Len() != tt.fill {
				t.Fatalf("Slices consumed data")
			}
		})
	}
	t.Run("PeekSlices negative", func(t *testing.T) {
		if s, err := New(nil).PeekSlices(-1, nil); len(s) != 0 || err != ErrNegativeCount {
			t.Fatalf("PeekSlices(-1) = %v, %v", s, err)
		}
	})
}

func TestReadByteUnreadByte(t *testing.T) {
	tests := []struct {
		name    string
		fill    int
		skip    int
		ops     string // r: ReadByte, u: UnreadByte, p: Peek(1), w: WriteByte, i: Index
		want    string // per op: byte read (as its value mod 10) or '.' ok or 'E' error
		wantLen int
	}{
		{name: "empty", ops: "ru", want: "EE"},
		{name: "read unread read", fill: 3, ops: "rur", want: "0.0", wantLen: 2},
		{name: "two unreads", fill: 3, ops: "rruu", want: "01.E", wantLen: 2},
		{name: "across a drained chunk", fill: 2, skip: 63, ops: "ruru", want: "0.0.", wantLen: 2},
		{name: "drain the buffer then unread", fill: 1, skip: 63, ops: "ru", want: "0.", wantLen: 1},
		{name: "peek ends the window", fill: 3, ops: "rpu", want: "0.E", wantLen: 2},
		{name: "index keeps the window", fill: 3, ops: "riu", want: "0..", wantLen: 3},
		{name: "write ends the window", fill: 3, ops: "rwu", want: "0.E", wantLen: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			var got []byte
			for _, op := range tt.ops {
				switch op {
				case 'r':
					c, err := b.ReadByte()
					if err != nil {
						if err != io.EOF {
							t.Fatalf("ReadByte error %v", err)
						}
						got = append(got, 'E')
					} else {
						got = append(got, '0'+c%10)
					}
				case 'u':
					if err := b.UnreadByte(); err != nil {
						if !errors.Is(err, ErrUnreadByte) {
							t.Fatalf("UnreadByte error %v", err)
						}
						got = append(got, 'E')
					} else {
						got = append(got, '.')
					}
				case 'p':
					b.Peek(1)
					got = append(got, '.')
				case 'w':
					b.WriteByte(9)
					got = append(got, '.')
				case 'i':
					b.Index(1)
					got = append(got, '.')
				}
				if err := b.check(); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != tt.want || b.Len() != tt.wantLen {
				t.Fatalf("ops %q gave %q Len %d; want %q Len %d", tt.ops, got, b.Len(), tt.want, tt.wantLen)
			}
			if b.Tell() != int64(tt.skip+tt.fill-b.Len())+int64(bytes.Count([]byte(tt.ops), []byte("w"))) {
				t.Fatalf("Tell %d inconsistent", b.Tell())
			}
		})
	}
}

// badReader and badWriter report impossible counts.
type badReader struct{ n int }

func (r badReader) Read(p []byte) (int, error) { return r.n, nil }

type badWriter struct{ n int }

func (w badWriter) Write(p []byte) (int, error) { return w.n, nil }

func TestReadFrom(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name       string
		fill       int
		r          func(data []byte) io.Reader
		size       int
		wantN      int
		wantErr    error
		wantChunks int
	}{
		{name: "empty reader", r: func(d []byte) io.Reader { return bytes.NewReader(d) }},
		{name: "one chunk", size: 64, r: func(d []byte) io.Reader { return bytes.NewReader(d) }, wantN: 64, wantChunks: 1},
		{name: "into tail then chunks", fill: 10, size: 200, r: func(d []byte) io.Reader { return bytes.NewReader(d) }, wantN: 200, wantChunks: 4},
		{name: "one byte reads", size: 130, r: func(d []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(d)) }, wantN: 130, wantChunks: 3},
		{name: "data with EOF", size: 100, r: func(d []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(d)) }, wantN: 100, wantChunks: 2},
		{name: "error after data", size: 100, r: func(d []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(d[:70]), iotest.ErrReader(errBoom))
		}, wantN: 70, wantErr: errBoom, wantChunks: 2},
		{name: "negative count", fill: 5, r: func([]byte) io.Reader { return badReader{-1} }, wantErr: ErrInvalidCount, wantChunks: 1},
		{name: "count too big", r: func([]byte) io.Reader { return badReader{65} }, wantErr: ErrInvalidCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, 0)
			data := pat(tt.size)
			n, err := b.ReadFrom(tt.r(data))
			if n != int64(tt.wantN) || err != tt.wantErr {
				t.Fatalf("ReadFrom = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if b.Chunks() != tt.wantChunks {
				t.Fatalf("Chunks() = %d, want %d", b.Chunks(), tt.wantChunks)
			}
			if want := append(pat(tt.fill), data[:tt.wantN]...); !bytes.Equal(contents(b), want) {
				t.Fatalf("contents wrong")
			}
		})
	}
}

func TestWriteTo(t *testing.T) {
	tests := []struct {
		name       string
		fill, skip int
		w          func() io.Writer
		wantN      int
		wantErr    error
		wantChunks int
	}{
		{name: "empty", w: func() io.Writer { return &limitWriter{limit: -1} }},
		{name: "three chunks", fill: 180, skip: 10, w: func() io.Writer { return &limitWriter{limit: -1} }, wantN: 180},
		{name: "writer fails mid chunk", fill: 180, w: func() io.Writer { return &limitWriter{limit: 100} }, wantN: 100, wantErr: errWriterFull, wantChunks: 2},
		{name: "writer fails at boundary", fill: 180, w: func() io.Writer { return &limitWriter{limit: 64} }, wantN: 64, wantErr: errWriterFull, wantChunks: 2},
		{name: "short write without error", fill: 50, w: func() io.Writer { return badWriter{20} }, wantN: 20, wantErr: io.ErrShortWrite, wantChunks: 1},
		{name: "count too big", fill: 50, w: func() io.Writer { return badWriter{51} }, wantErr: ErrInvalidCount, wantChunks: 1},
		{name: "negative count", fill: 50, w: func() io.Writer { return badWriter{-1} }, wantErr: ErrInvalidCount, wantChunks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(t, 64, tt.fill, tt.skip)
			w := tt.w()
			n, err := b.WriteTo(w)
			if n != int64(tt.wantN) || err != tt.wantErr {
				t.Fatalf("WriteTo = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if b.Chunks() != tt.wantChunks || b.Len() != tt.fill-tt.wantN || b.Tell() != int64(tt.skip+tt.wantN) {
				t.Fatalf("after WriteTo: Chunks %d Len %d Tell %d", b.Chunks(), b.Len(), b.Tell())
			}
			if lw, ok := w.(*limitWriter); ok && !bytes.Equal(lw.buf, pat(tt.fill)[:tt.wantN]) {
				t.Fatalf("writer got wrong bytes")
			}
		})
	}
}

// TestDrainedChunksGoBack checks requirement 1: once drained, a buffer holds
// no chunk (after Release where Next or ReadByte keep one for their result).
func TestDrainedChunksGoBack(t *testing.T) {
	tests := []struct {
		name        string
		drain       func(b *Buffer)
		needRelease bool
	}{
		{name: "Read", drain: func(b *Buffer) { b.Read(make([]byte, 1000)) }},
		{name: "Read in pieces", drain: func(b *Buffer) {
			for b.Len() > 0 {
				b.Read(make([]byte, 7))
			}
		}},
		{name: "Discard", drain: func(b *Buffer) { b.Discard(b.Len()) }},
		{name: "Discard more", drain: func(b *Buffer) { b.Discard(1 << 20) }},
		{name: "WriteTo", drain: func(b *Buffer) { b.WriteTo(io.Discard) }},
		{name: "Seek to end", drain: func(b *Buffer) { b.Seek(0, io.SeekEnd) }},
		{name: "Truncate 0", drain: func(b *Buffer) { b.Truncate(0) }},
		{name: "Reset", drain: func(b *Buffer) { b.Reset() }},
		{name: "Slices then Discard", drain: func(b *Buffer) { b.Discard(len(bytes.Join(b.Slices(nil, -1), nil))) }},
		{name: "Peek then Discard", drain: func(b *Buffer) { b.Peek(b.Len()); b.Discard(b.Len()) }},
		{name: "Next", drain: func(b *Buffer) { b.Next(b.Len()) }, needRelease: true},
		{name: "Next in pieces", drain: func(b *Buffer) {
			for b.Len() > 0 {
				b.Next(50)
			}
		}, needRelease: true},
		{name: "ReadByte", drain: func(b *Buffer) {
			for b.Len() > 0 {
				b.ReadByte()
			}
		}, needRelease: true},
		{name: "Next then Write reuses", drain: func(b *Buffer) { b.Next(b.Len()); b.WriteByte(1); b.Discard(1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(NewPool(64))
			b.Write(pat(300))
			s := b.Reserve(100, nil)
			copy(s[0], "abc")
			b.Commit(3)
			tt.drain(b)
			if b.Len() != 0 {
				t.Fatalf("not drained: Len %d", b.Len())
			}
			if tt.needRelease {
				if b.Chunks() > 1 {
					t.Fatalf("Chunks() = %d before Release, want at most the one kept for the result", b.Chunks())
				}
				b.Release()
			}
			if b.Chunks() != 0 {
				t.Fatalf("drained buffer holds %d chunks", b.Chunks())
			}
		})
	}
}

// TestSharedPoolConcurrent runs buffers on one Pool from several goroutines;
// with -race it checks the Pool's concurrency safety, and the data checks
// catch a chunk handed to two buffers at once.
func TestSharedPoolConcurrent(t *testing.T) {
	p := NewPool(64)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := New(p)
			var s [][]byte
			for i := range 500 {
				msg := bytes.Repeat([]byte{byte(g)}, 1+(i*37)%300)
				b.Write(msg[:len(msg)/2])
				s = b.Reserve(len(msg), s[:0])
				rest := msg[len(msg)/2:]
				for _, r := range s {
					rest = rest[copy(r, rest):]
				}
				b.Commit(len(msg) - len(msg)/2)
				got, _ := b.Next(len(msg))
				if !bytes.Equal(got, msg) {
					t.Errorf("goroutine %d: corrupted message %d", g, i)
					return
				}
			}
			b.Release()
			if b.Chunks() != 0 {
				t.Errorf("goroutine %d holds %d chunks", g, b.Chunks())
			}
		}()
	}
	wg.Wait()
}
