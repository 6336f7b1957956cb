package buffer

import (
	"bytes"
	"io"
	"testing"
)

// TestSteadyStateAllocs is the allocation budget of the hot paths: once the
// pool is warm, none of these cycles allocates.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	msg := pat(1000)
	p := make([]byte, 4096)
	iov := make([][]byte, 0, 16) // enough for 500 bytes in 64-byte chunks
	src := bytes.NewReader(msg)
	tests := []struct {
		name  string
		cycle func(b *Buffer)
	}{
		{name: "Write then Read", cycle: func(b *Buffer) {
			b.Write(msg)
			b.Read(p)
		}},
		{name: "WriteString then Discard", cycle: func(b *Buffer) {
			b.WriteString("hello, world")
			b.Discard(b.Len())
		}},
		{name: "Write then Next", cycle: func(b *Buffer) {
			b.Write(msg[:200])
			b.Next(200)
		}},
		{name: "Reserve Commit Slices Discard", cycle: func(b *Buffer) {
			iov = b.Reserve(300, iov[:0])
			rest := msg[:300]
			for _, s := range iov {
				rest = rest[copy(s, rest):]
			}
			b.Commit(300)
			iov = b.Slices(iov[:0], -1)
			n := 0
			for _, s := range iov {
				n += len(s)
			}
			b.Discard(n)
		}},
		{name: "Reserve Commit(0)", cycle: func(b *Buffer) {
			iov = b.Reserve(500, iov[:0])
			b.Commit(0)
		}},
		{name: "Peek within a chunk", cycle: func(b *Buffer) {
			b.WriteString("0123456789")
			b.Peek(8)
			b.Peek(10)
			b.Discard(10)
		}},
		{name: "Peek across a chunk boundary", cycle: func(b *Buffer) {
			cs := b.pool.ChunkSize()
			b.Write(p[:cs-20])
			b.Write(msg[:40]) // straddles the chunk boundary
			b.Discard(cs - 20)
			b.Peek(40)
			if b.Chunks() != 3 { // the block plus the two chunks copied from
				panic("Peek did not linearize: the cycle must exercise the copy")
			}
			b.Discard(40)
		}},
		{name: "Next across chunks", cycle: func(b *Buffer) {
			b.Write(msg)
			b.Next(700)
			b.Next(300)
		}},
		{name: "ReadFrom then WriteTo", cycle: func(b *Buffer) {
			src.Reset(msg)
			b.ReadFrom(src)
			b.WriteTo(io.Discard)
		}},
		{name: "ReadByte loop", cycle: func(b *Buffer) {
			b.WriteString("abc")
			for b.Len() > 0 {
				b.ReadByte()
			}
		}},
		{name: "Index and At", cycle: func(b *Buffer) {
			b.Write(msg)
			_ = b.Index(200) + int(b.At(999)) + b.IndexFunc(func(c byte) bool { return c == 99 })
			b.Reset()
		}},
	}
	for _, cs := range []int{64, 4096} {
		pool := NewPool(cs)
		for _, tt := range tests {
			t.Run(tt.name+"/"+itoa(cs), func(t *testing.T) {
				b := New(pool)
				for range 10 { // warm the pool and the size classes
					tt.cycle(b)
				}
				if n := testing.AllocsPerRun(200, func() { tt.cycle(b) }); n != 0 {
					t.Fatalf("%v allocations per cycle, want 0", n)
				}
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
