package buffer

import (
	"runtime"
	"testing"
)

// TestIdleMemory measures what an idle connection's buffer costs: buffers
// that carried traffic and were drained must be back to their struct size,
// with every chunk returned and, after two collections (sync.Pool keeps a
// victim generation), freed.
func TestIdleMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	const n = 20000
	msg := pat(3000)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	bufs := make([]*Buffer, n)
	for i := range bufs {
		bufs[i] = New(nil)
		bufs[i].Write(msg)
	}
	busy := heap()
	for _, b := range bufs {
		b.Discard(1000)
		b.Next(b.Len())
		b.Release()
	}
	idle := heap()
	runtime.KeepAlive(bufs)
	slice := uint64(n * 8) // the test's own []*Buffer
	perBusy := float64(busy-before-slice) / n
	perIdle := float64(idle-before-slice) / n
	t.Logf("per buffer: busy (3000 B queued) %.0f B, idle %.0f B", perBusy, perIdle)
	if perIdle > 80 {
		t.Fatalf("an idle buffer costs %.0f bytes of heap, want its 64-byte allocation", perIdle)
	}
	for _, b := range bufs {
		if b.Chunks() != 0 {
			t.Fatalf("idle buffer holds %d chunks", b.Chunks())
		}
	}
}
