package engine

import (
	"fmt"
	"io"
	"runtime"
	"testing"
)

// BenchmarkAsyncWrite measures AsyncWrite and AsyncWritev from a goroutine
// other than the connection's loop: the queueing cost (the task pushed to
// the loop), the loop's copy into the outbound buffer and the write to a
// loopback peer that discards. The peer keeps up, so the numbers are the
// engine's per-message cost, not the socket's. Run:
//
//	go test ./engine -run XXX -bench AsyncWrite -benchmem
func BenchmarkAsyncWrite(b *testing.B) {
	for _, k := range kinds {
		for _, size := range []int{64, 1024} {
			for _, vec := range []bool{false, true} {
				name := fmt.Sprintf("%s/size=%d", k, size)
				if vec {
					name += "/writev"
				}
				b.Run(name, func(b *testing.B) { benchAsyncWrite(b, k, size, vec) })
			}
		}
	}
}

func benchAsyncWrite(b *testing.B, k Kind, size int, vec bool) {
	_, nc, sc := startConn(b, Config{Kind: k, Loops: 1, MaxOutbound: 64 << 20}, newTH())
	go io.Copy(io.Discard, nc)

	p := make([]byte, size)
	bufs := [][]byte{p[:size/2], p[size/2:]}
	write := func(done WriteDone) error {
		if vec {
			return sc.AsyncWritev(bufs, done)
		}
		return sc.AsyncWrite(p, done)
	}
	// Stay well under MaxOutbound: let the loop catch up now and then.
	maxPending := max(16, (1<<20)/size)
	last := make(chan error, 1)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%16 == 0 {
			for sc.Pending() > maxPending {
				runtime.Gosched()
			}
		}
		var done WriteDone
		if i == b.N-1 {
			done = func(_ Conn, err error) { last <- err }
		}
		if err := write(done); err != nil {
			b.Fatalf("AsyncWrite %d: %v", i, err)
		}
	}
	if err := <-last; err != nil {
		b.Fatalf("last AsyncWrite: %v", err)
	}
	b.StopTimer()
}
