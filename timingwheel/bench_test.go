package timingwheel

import (
	"container/heap"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// Benchmarks at the scale wharf targets: one million timers. Each compares
// the wheel with Go's runtime timers (time.AfterFunc, Stop, Reset) and with
// a container/heap timer queue, the textbook alternative. One op is one
// timer operation; the setup that fills or empties a million timers is not
// timed. B/timer is the memory one armed timer costs (measured from
// runtime.MemStats.TotalAlloc for runtime timers, the struct sizes for the
// others); fixed-B is the wheel's size with no timers. Metrics are reported
// after the timed loop because ResetTimer deletes them.

const benchTimers = 1_000_000

// benchOffsets returns n deadlines spread uniformly over (0, 120s): idle
// timeouts, heartbeats and shorter deadlines, mostly in levels 0 and 1 at
// the default tick. Two tables let Reset always move a timer.
func benchOffsets(seed uint64) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 42))
	d := make([]time.Duration, benchTimers)
	for i := range d {
		d[i] = 1 + time.Duration(r.Int64N(int64(120*time.Second)))
	}
	return d
}

// bytesPerTimer reports the bytes allocated by fill per timer.
func bytesPerTimer(fill func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fill()
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / benchTimers
}

// deadlines turns offsets into absolute times after base, precomputed so
// the timed loops measure the queue, not time.Time.Add.
func deadlines(base time.Time, offsets []time.Duration) []time.Time {
	whens := make([]time.Time, len(offsets))
	for i, d := range offsets {
		whens[i] = base.Add(d)
	}
	return whens
}

// --- the wheel ---

type wheelBench struct {
	w      *Wheel
	clk    *fakeClock
	timers []Timer
}

// newWheelBench returns a wheel on a fake clock that starts at the real
// time, so its times carry a monotonic reading as in production (Sub is
// much cheaper on those than on wall-only times).
func newWheelBench() *wheelBench {
	wb := &wheelBench{clk: &fakeClock{now: time.Now()}}
	wb.w = New(Config{Clock: wb.clk.Now})
	wb.timers = make([]Timer, benchTimers)
	for i := range wb.timers {
		wb.timers[i].Init(func() {})
	}
	return wb
}

func (wb *wheelBench) fill(whens []time.Time) {
	for i := range wb.timers {
		wb.w.Schedule(&wb.timers[i], whens[i])
	}
}

func (wb *wheelBench) empty() {
	for i := range wb.timers {
		wb.w.Stop(&wb.timers[i])
	}
}

func reportWheelMemory(b *testing.B) {
	b.ReportMetric(float64(unsafe.Sizeof(Timer{})), "B/timer")
	b.ReportMetric(float64(unsafe.Sizeof(Wheel{})), "fixed-B")
}

// --- a container/heap timer queue, for context ---

// heapTimer is the heap's equivalent of Timer: intrusive, with its index in
// the heap so Stop and Reset are O(log n) without a search.
type heapTimer struct {
	when  int64 // unix nanoseconds
	index int   // position in the heap, -1 when inactive
	f     func()
}

type timerHeap []*heapTimer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*heapTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

type heapQueue struct{ h timerHeap }

func (q *heapQueue) schedule(t *heapTimer, when int64) {
	t.when = when
	if t.index >= 0 {
		heap.Fix(&q.h, t.index)
		return
	}
	heap.Push(&q.h, t)
}

func (q *heapQueue) stop(t *heapTimer) bool {
	if t.index < 0 {
		return false
	}
	heap.Remove(&q.h, t.index)
	return true
}

func (q *heapQueue) advance(now int64) int {
	n := 0
	for len(q.h) > 0 && q.h[0].when <= now {
		t := heap.Pop(&q.h).(*heapTimer)
		t.f()
		n++
	}
	return n
}

type heapBench struct {
	q      heapQueue
	now    int64
	timers []heapTimer
}

func newHeapBench() *heapBench {
	hb := &heapBench{now: epoch.UnixNano()}
	hb.q.h = make(timerHeap, 0, benchTimers)
	hb.timers = make([]heapTimer, benchTimers)
	for i := range hb.timers {
		hb.timers[i] = heapTimer{index: -1, f: func() {}}
	}
	return hb
}

func (hb *heapBench) fill(offsets []time.Duration) {
	for i := range hb.timers {
		hb.q.schedule(&hb.timers[i], hb.now+int64(offsets[i]))
	}
}

func (hb *heapBench) empty() {
	for i := range hb.timers {
		hb.q.stop(&hb.timers[i])
	}
}

// --- runtime timers ---

// runtimeOffset keeps runtime timers far enough out that none fires while
// the benchmark runs.
const runtimeOffset = time.Hour

type runtimeBench struct{ timers []*time.Timer }

func (rb *runtimeBench) fill(offsets []time.Duration) {
	if rb.timers == nil {
		rb.timers = make([]*time.Timer, benchTimers)
	}
	for i := range rb.timers {
		rb.timers[i] = time.AfterFunc(runtimeOffset+offsets[i], func() {})
	}
}

func (rb *runtimeBench) empty() {
	for _, t := range rb.timers {
		if t != nil {
			t.Stop()
		}
	}
}

// BenchmarkSchedule arms inactive timers into a queue that grows to a
// million; the queue is emptied, untimed, every million ops.
func BenchmarkSchedule(b *testing.B) {
	offsets := benchOffsets(1)
	b.Run("wheel", func(b *testing.B) {
		wb := newWheelBench()
		whens := deadlines(wb.clk.now, offsets)
		defer reportWheelMemory(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				wb.empty()
				b.StartTimer()
			}
			wb.w.Schedule(&wb.timers[j], whens[j])
		}
	})
	// Add reads the real clock (time.Now) for every timer, as AfterFunc
	// does: the fair comparison with runtime timers.
	b.Run("wheel-Add", func(b *testing.B) {
		wb := newWheelBench()
		wb.w.clock = time.Now
		defer reportWheelMemory(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				wb.empty()
				b.StartTimer()
			}
			wb.w.Add(&wb.timers[j], offsets[j])
		}
	})
	b.Run("heap", func(b *testing.B) {
		hb := newHeapBench()
		// The heap entry plus its slot in the heap's slice.
		defer b.ReportMetric(float64(unsafe.Sizeof(heapTimer{})+unsafe.Sizeof(&heapTimer{})), "B/timer")
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				hb.empty()
				b.StartTimer()
			}
			hb.q.schedule(&hb.timers[j], hb.now+int64(offsets[j]))
		}
	})
	b.Run("runtime", func(b *testing.B) {
		rb := &runtimeBench{}
		perTimer := bytesPerTimer(func() { rb.fill(offsets) })
		defer b.ReportMetric(perTimer, "B/timer")
		rb.empty()
		rb.timers = make([]*time.Timer, benchTimers)
		f := func() {}
		b.Cleanup(rb.empty)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				rb.empty()
				b.StartTimer()
			}
			rb.timers[j] = time.AfterFunc(runtimeOffset+offsets[j], f)
		}
	})
}

// BenchmarkStop stops armed timers out of a million; the queue is refilled,
// untimed, every million ops.
func BenchmarkStop(b *testing.B) {
	offsets := benchOffsets(2)
	b.Run("wheel", func(b *testing.B) {
		wb := newWheelBench()
		whens := deadlines(wb.clk.now, offsets)
		wb.fill(whens)
		defer reportWheelMemory(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				wb.fill(whens)
				b.StartTimer()
			}
			wb.w.Stop(&wb.timers[j])
		}
	})
	b.Run("heap", func(b *testing.B) {
		hb := newHeapBench()
		hb.fill(offsets)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				hb.fill(offsets)
				b.StartTimer()
			}
			hb.q.stop(&hb.timers[j])
		}
	})
	b.Run("runtime", func(b *testing.B) {
		rb := &runtimeBench{}
		rb.fill(offsets)
		b.Cleanup(rb.empty)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			if j == 0 && i > 0 {
				b.StopTimer()
				rb.fill(offsets)
				b.StartTimer()
			}
			rb.timers[j].Stop()
		}
	})
}

// BenchmarkReset moves armed timers among a million to a new deadline:
// Schedule of an active timer, the per-packet idle-timeout reset. The new
// deadline always differs from the old one (same-tick resets would hit the
// wheel's fast path and flatter it).
func BenchmarkReset(b *testing.B) {
	tables := [2][]time.Duration{benchOffsets(3), benchOffsets(4)}
	b.Run("wheel", func(b *testing.B) {
		wb := newWheelBench()
		whens := [2][]time.Time{deadlines(wb.clk.now, tables[0]), deadlines(wb.clk.now, tables[1])}
		wb.fill(whens[0])
		defer reportWheelMemory(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			wb.w.Schedule(&wb.timers[j], whens[(i/benchTimers+1)&1][j])
		}
	})
	b.Run("heap", func(b *testing.B) {
		hb := newHeapBench()
		hb.fill(tables[0])
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			hb.q.schedule(&hb.timers[j], hb.now+int64(tables[(i/benchTimers+1)&1][j]))
		}
	})
	b.Run("runtime", func(b *testing.B) {
		rb := &runtimeBench{}
		rb.fill(tables[0])
		b.Cleanup(rb.empty)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % benchTimers
			rb.timers[j].Reset(runtimeOffset + tables[(i/benchTimers+1)&1][j])
		}
	})
}

// BenchmarkIdleReset is the idle-timeout workload of a busy server: a
// million connections with a 60 s idle timeout, packets arriving at 1M/s on
// random connections, each packet resetting its connection's timer, and the
// loop calling Advance every 1000 packets (1 ms). One op is one packet,
// including its share of the Advance calls. Every connection hears from
// its peer about once a second, so none times out. The wheel's timers
// start where they would sit in steady state: in a slot uniformly spread
// over the next minute, with their deadline since moved later, so the
// deferred cost of in-place moves (one re-placement per timer per minute,
// paid inside Advance) is measured at its steady rate.
func BenchmarkIdleReset(b *testing.B) {
	const (
		idle  = 60 * time.Second
		perOp = time.Microsecond // 1M packets/s in all
		batch = 1000             // packets per loop iteration
	)
	r := rand.New(rand.NewPCG(7, 42))
	conns := make([]uint32, 1<<20) // which connection each packet is for
	for i := range conns {
		conns[i] = uint32(r.IntN(benchTimers))
	}
	slots := benchOffsets(8) // uniform over (0, 120s)
	lastHeard := make([]time.Duration, benchTimers)
	for i := range lastHeard {
		slots[i] /= 2 // uniform over (0, 60s)
		lastHeard[i] = time.Duration(r.Int64N(int64(time.Second)))
	}
	b.Run("wheel", func(b *testing.B) {
		wb := newWheelBench()
		base := wb.clk.now
		for i := range wb.timers {
			wb.w.Schedule(&wb.timers[i], base.Add(slots[i]))
			wb.w.Schedule(&wb.timers[i], base.Add(idle-lastHeard[i]))
		}
		defer reportWheelMemory(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			wb.clk.now = base.Add(time.Duration(i) * perOp)
			wb.w.Reset(&wb.timers[conns[i&(len(conns)-1)]], idle)
			if i%batch == batch-1 {
				wb.w.Advance(wb.clk.now)
			}
		}
		b.StopTimer()
		if wb.w.Len() != benchTimers {
			b.Fatalf("%d connections timed out", benchTimers-wb.w.Len())
		}
	})
	b.Run("heap", func(b *testing.B) {
		hb := newHeapBench()
		base := hb.now
		for i := range hb.timers {
			hb.q.schedule(&hb.timers[i], base+int64(idle-lastHeard[i]))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			hb.now = base + int64(i)*int64(perOp)
			hb.q.schedule(&hb.timers[conns[i&(len(conns)-1)]], hb.now+int64(idle))
			if i%batch == batch-1 {
				hb.q.advance(hb.now)
			}
		}
		b.StopTimer()
		if len(hb.q.h) != benchTimers {
			b.Fatalf("%d connections timed out", benchTimers-len(hb.q.h))
		}
	})
	b.Run("runtime", func(b *testing.B) {
		rb := &runtimeBench{timers: make([]*time.Timer, benchTimers)}
		for i := range rb.timers {
			rb.timers[i] = time.AfterFunc(idle-lastHeard[i], func() {})
		}
		b.Cleanup(rb.empty)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			rb.timers[conns[i&(len(conns)-1)]].Reset(idle)
		}
	})
}

// BenchmarkAdvanceFire fires a million timers spread over 120 s by
// advancing in 10 ms steps, as an event loop does; one op is one timer
// fired (callbacks are empty, the cost is the queue's). Runtime timers are
// left out: they fire on their own goroutine in real time, which is not
// comparable.
func BenchmarkAdvanceFire(b *testing.B) {
	offsets := benchOffsets(5)
	const step = 10 * time.Millisecond
	b.Run("wheel", func(b *testing.B) {
		wb := newWheelBench()
		defer reportWheelMemory(b)
		b.ReportAllocs()
		b.ResetTimer()
		for fired := 0; fired < b.N; {
			if wb.w.Len() == 0 {
				b.StopTimer()
				n := min(benchTimers, b.N-fired)
				whens := deadlines(wb.clk.now, offsets[:n])
				for i := range n {
					wb.w.Schedule(&wb.timers[i], whens[i])
				}
				b.StartTimer()
			}
			wb.clk.now = wb.clk.now.Add(step)
			fired += wb.w.Advance(wb.clk.now)
		}
	})
	b.Run("heap", func(b *testing.B) {
		hb := newHeapBench()
		b.ReportAllocs()
		b.ResetTimer()
		for fired := 0; fired < b.N; {
			if len(hb.q.h) == 0 {
				b.StopTimer()
				n := min(benchTimers, b.N-fired)
				for i := range n {
					hb.q.schedule(&hb.timers[i], hb.now+int64(offsets[i]))
				}
				b.StartTimer()
			}
			hb.now += int64(step)
			fired += hb.q.advance(hb.now)
		}
	})
}

// BenchmarkAdvanceAfterStall measures one Advance over an hour at a 1 ms
// tick, 3.6 million ticks: the cost of catching up after the loop was
// stopped. The occupancy bitmaps make it a few slot visits plus the
// cascades and fires of the timers due, instead of a walk over every tick.
// One op is one hour-long Advance; "1k-timers" has 1000 timers spread over
// 24 h (about 42 fire per op), re-armed, untimed, when all have fired.
func BenchmarkAdvanceAfterStall(b *testing.B) {
	for _, n := range []int{0, 1000} {
		name := "empty"
		if n > 0 {
			name = "1k-timers"
		}
		b.Run(name, func(b *testing.B) {
			clk := &fakeClock{now: epoch}
			w := New(Config{Tick: time.Millisecond, Clock: clk.Now})
			timers := make([]Timer, n)
			for i := range timers {
				timers[i].Init(func() {})
			}
			r := rand.New(rand.NewPCG(6, 42))
			b.ReportAllocs()
			for b.Loop() {
				if n > 0 && w.Len() == 0 {
					b.StopTimer()
					for i := range timers {
						w.Schedule(&timers[i], clk.now.Add(1+time.Duration(r.Int64N(int64(24*time.Hour)))))
					}
					b.StartTimer()
				}
				clk.now = clk.now.Add(time.Hour)
				w.Advance(clk.now)
			}
		})
	}
}
