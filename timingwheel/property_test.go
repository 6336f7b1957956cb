package timingwheel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// fakeClock is a manual clock for Config.Clock. Its times carry no
// monotonic reading, like times from a test or a replayed log.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// pending is one armed timer in the sorted-list model.
type pending struct {
	eff int64 // the tick of the first Advance target that must fire it
	seq int   // arming order, to keep the list order total
	id  int
}

// listModel is the reference: a plain list of armed timers sorted by the
// tick at which they must fire. Advance to target T pops the prefix with
// eff <= T; that prefix is exactly what the wheel must fire, in that order
// up to ties.
type listModel struct {
	list []pending
	seq  int
}

func (m *listModel) add(id int, eff int64) {
	m.seq++
	p := pending{eff: eff, seq: m.seq, id: id}
	i, _ := slices.BinarySearchFunc(m.list, p, func(a, b pending) int {
		if a.eff != b.eff {
			return cmpInt64(a.eff, b.eff)
		}
		return a.seq - b.seq
	})
	m.list = slices.Insert(m.list, i, p)
}

func (m *listModel) remove(id int) bool {
	i := slices.IndexFunc(m.list, func(p pending) bool { return p.id == id })
	if i < 0 {
		return false
	}
	m.list = slices.Delete(m.list, i, i+1)
	return true
}

func (m *listModel) popDue(target int64) []pending {
	n := 0
	for n < len(m.list) && m.list[n].eff <= target {
		n++
	}
	due := slices.Clone(m.list[:n])
	m.list = slices.Delete(m.list, 0, n)
	return due
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ceilDiv(d, tick time.Duration) int64 {
	k := int64(d / tick)
	if d%tick > 0 {
		k++
	}
	return k
}

func floorDiv(d, tick time.Duration) int64 {
	k := int64(d / tick)
	if d%tick < 0 {
		k--
	}
	return k
}

// randDeadline draws a deadline relative to now from a mix that covers past
// deadlines, tick boundaries, every level, the clamp beyond 2^32 ticks, and
// (through shared) many timers on identical deadlines.
func randDeadline(r *rand.Rand, now time.Time, tick time.Duration, shared []time.Time) time.Time {
	switch r.IntN(9) {
	case 0:
		return now.Add(-time.Duration(r.Int64N(int64(2 * time.Hour))))
	case 1:
		return now
	case 2:
		return now.Add(time.Duration(r.Int64N(int64(4 * tick))))
	case 3:
		return now.Add(time.Duration(r.Int64N(600)) * tick)
	case 4:
		return now.Add(time.Duration(r.Int64N(int64(time.Minute))))
	case 5:
		return now.Add(time.Duration(r.Int64N(int64(3 * time.Hour))))
	case 6:
		return now.Add(time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
	default:
		return shared[r.IntN(len(shared))]
	}
}

// TestPropertySortedList drives a wheel and the sorted-list model with the
// same random operations on a fake clock and requires them to agree after
// every step: the set fired by each Advance (so every timer fires exactly
// once, never early, never more than one tick late, never after Stop), the
// firing order across ticks, Len, and NextExpiry as a lower bound.
func TestPropertySortedList(t *testing.T) {
	tests := []struct {
		name   string
		tick   time.Duration
		timers int
		ops    int
	}{
		{name: "1us tick, deadlines beyond the wheel's range", tick: time.Microsecond, timers: 64, ops: 4000},
		{name: "1ms tick", tick: time.Millisecond, timers: 200, ops: 8000},
		{name: "default tick", tick: 0, timers: 200, ops: 8000},
		{name: "7ms tick, not a power of two", tick: 7 * time.Millisecond, timers: 50, ops: 8000},
		{name: "1h tick", tick: time.Hour, timers: 50, ops: 3000},
	}
	for _, tt := range tests {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("%s/seed=%d", tt.name, seed), func(t *testing.T) {
				ops := tt.ops
				if testing.Short() {
					ops /= 4
				}
				runSortedListModel(t, rand.New(rand.NewPCG(seed, 0x7157)), tt.tick, tt.timers, ops)
			})
		}
	}
}

func runSortedListModel(t *testing.T, r *rand.Rand, tick time.Duration, ntimers, nops int) {
	clk := &fakeClock{now: epoch}
	w := New(Config{Tick: tick, Clock: clk.Now})
	if tick == 0 {
		tick = DefaultTick
	}
	var (
		model    listModel
		deadline = make([]time.Time, ntimers)
		effOf    = make([]int64, ntimers)
		active   = make([]bool, ntimers)
		fired    []int
		advNow   time.Time
		cur      int64 // the model's last processed tick
		timers   = make([]Timer, ntimers)
	)
	for i := range timers {
		timers[i].Init(func() {
			if !advNow.Equal(w.Now()) {
				t.Fatalf("timer %d: Now() = %v inside a callback, Advance was given %v", i, w.Now(), advNow)
			}
			if advNow.Before(deadline[i]) {
				t.Fatalf("timer %d fired early: deadline %v, Advance(%v)", i, deadline[i], advNow)
			}
			fired = append(fired, i)
		})
	}
	shared := []time.Time{epoch.Add(time.Second), epoch.Add(90 * time.Second), epoch.Add(5 * time.Hour), epoch.Add(1)}

	// arm records a (re)schedule in the model and returns the tick When
	// must report.
	arm := func(i int, when time.Time) int64 {
		deadline[i] = when
		e := ceilDiv(when.Sub(epoch), tick)
		if !when.After(w.Now()) {
			e = min(e, cur) // due now, even inside the current tick
		}
		model.remove(i)
		effOf[i] = max(e, cur) // past deadlines fire on the next Advance
		model.add(i, effOf[i])
		active[i] = true
		return e
	}

	for op := range nops {
		i := r.IntN(ntimers)
		switch k := r.IntN(10); {
		case k < 4: // schedule or reschedule, absolute
			when := randDeadline(r, clk.now, tick, shared)
			wasActive := active[i]
			if timers[i].Active() != wasActive {
				t.Fatalf("op %d: timer %d Active() = %v, model %v", op, i, timers[i].Active(), wasActive)
			}
			w.Schedule(&timers[i], when)
			e := arm(i, when)
			if got, want := timers[i].When(), epoch.Add(time.Duration(e)*tick); !got.Equal(want) {
				t.Fatalf("op %d: When() = %v, want %v (deadline %v rounded up)", op, got, want, when)
			}
		case k < 5: // Reset relative to the clock
			d := time.Duration(r.Int64N(int64(10 * time.Minute)))
			if got := w.Reset(&timers[i], d); got != active[i] {
				t.Fatalf("op %d: Reset(timer %d) = %v, model says active=%v", op, i, got, active[i])
			}
			arm(i, clk.now.Add(d))
		case k < 7: // stop
			if got := w.Stop(&timers[i]); got != active[i] {
				t.Fatalf("op %d: Stop(timer %d) = %v, model says active=%v", op, i, got, active[i])
			}
			model.remove(i)
			active[i] = false
		default: // move the clock, maybe a lot, and advance
			switch r.IntN(6) {
			case 0:
			case 1:
				clk.now = clk.now.Add(time.Duration(r.Int64N(int64(3 * tick))))
			case 2:
				clk.now = clk.now.Add(time.Duration(r.Int64N(300)) * tick)
			case 3:
				clk.now = clk.now.Add(time.Duration(r.Int64N(int64(10 * time.Minute))))
			case 4:
				clk.now = clk.now.Add(time.Duration(r.Int64N(int64(6 * time.Hour))))
			case 5: // exactly onto, or just before, a pending tick boundary
				if len(model.list) > 0 {
					p := model.list[r.IntN(len(model.list))]
					at := epoch.Add(time.Duration(p.eff) * tick)
					if r.IntN(2) == 0 {
						at = at.Add(-1)
					}
					if at.After(clk.now) {
						clk.now = at
					}
				}
			}
			advNow = clk.now
			target := floorDiv(clk.now.Sub(epoch), tick)
			fired = fired[:0]
			n := w.Advance(clk.now)
			cur = max(cur, target)
			want := model.popDue(target)
			if n != len(fired) {
				t.Fatalf("op %d: Advance returned %d, callbacks ran %d", op, n, len(fired))
			}
			if len(fired) != len(want) {
				t.Fatalf("op %d: Advance(%v) fired %d timers, model wants %d\nfired %v\nwant %v",
					op, clk.now.Sub(epoch), len(fired), len(want), fired, want)
			}
			wantIDs := make(map[int]bool, len(want))
			for _, p := range want {
				wantIDs[p.id] = true
			}
			last := int64(-1 << 63)
			for _, id := range fired {
				if !wantIDs[id] {
					t.Fatalf("op %d: timer %d fired but is not due (or fired twice)", op, id)
				}
				delete(wantIDs, id)
				if effOf[id] < last {
					t.Fatalf("op %d: timer %d (tick %d) fired after a timer of tick %d", op, id, effOf[id], last)
				}
				last = effOf[id]
				active[id] = false
				if timers[id].Active() {
					t.Fatalf("op %d: timer %d still active after firing", op, id)
				}
			}
		}
		if w.Len() != len(model.list) {
			t.Fatalf("op %d: Len() = %d, model %d", op, w.Len(), len(model.list))
		}
		checkNextExpiry(t, w, &model, tick)
	}
}

// checkNextExpiry requires NextExpiry to be a lower bound no later than the
// model's earliest firing time, and never before Now.
func checkNextExpiry(t *testing.T, w *Wheel, m *listModel, tick time.Duration) {
	t.Helper()
	at, ok := w.NextExpiry()
	if ok != (len(m.list) > 0) {
		t.Fatalf("NextExpiry ok = %v with %d timers in the model", ok, len(m.list))
	}
	if !ok {
		return
	}
	earliest := epoch.Add(time.Duration(m.list[0].eff) * tick)
	if earliest.Before(w.Now()) {
		earliest = w.Now() // due: fires on the next Advance, whatever its time
	}
	if at.After(earliest) {
		t.Fatalf("NextExpiry = %v, later than the earliest firing time %v", at.Sub(epoch), earliest.Sub(epoch))
	}
	if at.Before(w.Now()) {
		t.Fatalf("NextExpiry = %v, before Now() = %v", at.Sub(epoch), w.Now().Sub(epoch))
	}
}

// TestPropertyCallbacks lets callbacks re-arm themselves, stop others and
// arm others while Advance runs, and checks every firing against the rule:
// a timer armed before this Advance fires iff its tick is <= the target;
// one armed by a callback during it fires in it iff its tick is after the
// tick being fired and <= the target; a stopped timer never fires; each arm
// fires at most once; nothing fires early.
func TestPropertyCallbacks(t *testing.T) {
	tests := []struct {
		name string
		tick time.Duration
	}{
		{name: "1ms tick", tick: time.Millisecond},
		{name: "10ms tick", tick: 10 * time.Millisecond},
		{name: "3us tick", tick: 3 * time.Microsecond},
	}
	for _, tt := range tests {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("%s/seed=%d", tt.name, seed), func(t *testing.T) {
				ops := 6000
				if testing.Short() {
					ops = 1500
				}
				runCallbackModel(t, rand.New(rand.NewPCG(seed, 0xca11)), tt.tick, 120, ops)
			})
		}
	}
}

type armState struct {
	active   bool
	deadline time.Time
	e        int64 // deadline tick
	base     int64 // tick the wheel was at (or firing) when armed
	adv      int   // index of the Advance during which it was armed; -1 before the first
}

func runCallbackModel(t *testing.T, r *rand.Rand, tick time.Duration, ntimers, nops int) {
	clk := &fakeClock{now: epoch}
	w := New(Config{Tick: tick, Clock: clk.Now})
	var (
		st       = make([]armState, ntimers)
		timers   = make([]Timer, ntimers)
		advIdx   = -1  // index of the running or last Advance
		inAdv    bool  // an Advance is running
		oldCur   int64 // the model's tick before the running Advance
		target   int64 // the running Advance's target tick
		firing   int64 // tick being fired (non-decreasing within an Advance)
		nActive  int   // model's Len
		nFired   int   // callbacks in the running Advance
		shared   = []time.Time{epoch.Add(time.Second), epoch.Add(time.Minute)}
		cbRand   = rand.New(rand.NewPCG(r.Uint64(), 1))
		doRandom func(int)
	)
	arm := func(i int, when time.Time) {
		w.Schedule(&timers[i], when)
		s := &st[i]
		if !s.active {
			nActive++
		}
		*s = armState{active: true, deadline: when, e: ceilDiv(when.Sub(epoch), tick), adv: advIdx}
		if !when.After(w.Now()) {
			s.e = min(s.e, target) // due now: the tick of now, even if partial
		}
		if inAdv {
			s.base = firing
		} else {
			s.base = max(oldCur, target)
		}
	}
	stop := func(i int) {
		if got := w.Stop(&timers[i]); got != st[i].active {
			t.Fatalf("Stop(timer %d) = %v, model says active=%v", i, got, st[i].active)
		}
		if st[i].active {
			nActive--
		}
		st[i].active = false
	}
	// mustFire reports whether the running (or just finished) Advance must
	// fire s.
	mustFire := func(s *armState) bool {
		if s.adv < advIdx {
			return max(s.e, s.base) <= target
		}
		return s.base < s.e && s.e <= target
	}
	for i := range timers {
		timers[i].Init(func() {
			s := &st[i]
			if !inAdv {
				t.Fatalf("timer %d fired outside Advance", i)
			}
			if !s.active {
				t.Fatalf("timer %d fired while the model has it stopped or already fired", i)
			}
			if !mustFire(s) {
				t.Fatalf("timer %d fired in Advance %d (target %d, firing %d) but is armed for tick %d from base %d in Advance %d",
					i, advIdx, target, firing, s.e, s.base, s.adv)
			}
			if w.Now().Before(s.deadline) {
				t.Fatalf("timer %d fired early: deadline %v, Now %v", i, s.deadline, w.Now())
			}
			// The tick being fired: its own, or the wheel's old tick for a
			// timer that was already due when this Advance began (a timer
			// still in the wheel has a tick after oldCur).
			tk := max(s.e, oldCur)
			if tk < firing {
				t.Fatalf("timer %d of tick %d fired after tick %d", i, tk, firing)
			}
			firing = tk
			s.active = false
			nActive--
			nFired++
			if timers[i].Active() {
				t.Fatalf("timer %d active inside its own callback", i)
			}
			// Now act like a real callback.
			for range cbRand.IntN(3) {
				doRandom(i)
			}
		})
	}
	doRandom = func(self int) {
		i := cbRand.IntN(ntimers)
		switch cbRand.IntN(8) {
		case 0, 1: // re-arm self (or a random timer outside callbacks) relative to Now
			if self >= 0 {
				i = self
			}
			arm(i, w.Now().Add(time.Duration(cbRand.Int64N(int64(40*tick)))-5*tick))
		case 2: // re-arm from the timer's own deadline: catch-up style
			if self >= 0 {
				i = self
			}
			arm(i, timers[i].When().Add(time.Duration(cbRand.Int64N(int64(3*tick)))))
		case 3: // zero delay
			arm(i, w.Now())
		case 4, 5:
			stop(i)
		default: // arm another timer at a random deadline
			arm(i, randDeadline(cbRand, w.Now(), tick, shared))
		}
	}

	for op := range nops {
		if r.IntN(3) > 0 {
			doRandom(-1)
		} else {
			switch r.IntN(4) {
			case 0:
				clk.now = clk.now.Add(time.Duration(r.Int64N(int64(3 * tick))))
			case 1:
				clk.now = clk.now.Add(time.Duration(r.Int64N(100)) * tick)
			case 2:
				clk.now = clk.now.Add(time.Duration(r.Int64N(int64(2 * time.Minute))))
			}
			advIdx++
			oldCur = max(oldCur, target)
			target = max(target, floorDiv(clk.now.Sub(epoch), tick))
			firing = oldCur
			inAdv = true
			nFired = 0
			n := w.Advance(clk.now)
			inAdv = false
			if n != nFired {
				t.Fatalf("op %d: Advance returned %d, callbacks ran %d", op, n, nFired)
			}
			for i := range st {
				if st[i].active && mustFire(&st[i]) {
					t.Fatalf("op %d: timer %d (tick %d, base %d, armed in Advance %d) missed Advance %d to tick %d",
						op, i, st[i].e, st[i].base, st[i].adv, advIdx, target)
				}
			}
		}
		if w.Len() != nActive {
			t.Fatalf("op %d: Len() = %d, model %d", op, w.Len(), nActive)
		}
		for i := range st {
			if timers[i].Active() != st[i].active {
				t.Fatalf("op %d: timer %d Active() = %v, model %v", op, i, timers[i].Active(), st[i].active)
			}
		}
	}
}

// FuzzSortedList runs the sorted-list model with the fuzzer choosing the
// random stream and the tick; plain `go test` runs the seeds below.
func FuzzSortedList(f *testing.F) {
	f.Add(uint64(1), uint64(2), int64(time.Millisecond))
	f.Add(uint64(7), uint64(0), int64(time.Microsecond))
	f.Add(uint64(3), uint64(9), int64(10*time.Millisecond))
	f.Add(uint64(5), uint64(5), int64(3*time.Second))
	f.Fuzz(func(t *testing.T, s1, s2 uint64, tick int64) {
		tk := time.Duration(tick)
		if tk < time.Microsecond || tk > time.Hour {
			// Below 1us, deadlines days away re-cascade millions of times.
			t.Skip()
		}
		runSortedListModel(t, rand.New(rand.NewPCG(s1, s2)), tk, 32, 400)
	})
}
