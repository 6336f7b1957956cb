package timingwheel

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// newFake returns a wheel on a fake clock starting at epoch.
func newFake(tick time.Duration) (*Wheel, *fakeClock) {
	clk := &fakeClock{now: epoch}
	return New(Config{Tick: tick, Clock: clk.Now}), clk
}

// TestTimerSize guards the memory budget: a million embedded timers must
// stay at 40 MB.
func TestTimerSize(t *testing.T) {
	if size := unsafe.Sizeof(Timer{}); size > 40 {
		t.Fatalf("unsafe.Sizeof(Timer{}) = %d, budget 40", size)
	}
}

func TestNewDefaults(t *testing.T) {
	w := New(Config{})
	if w.tick != DefaultTick {
		t.Fatalf("tick = %v, want DefaultTick %v", w.tick, DefaultTick)
	}
	if since := time.Since(w.Now()); since < 0 || since > time.Hour {
		t.Fatalf("Now() = %v, want about time.Now()", w.Now())
	}
	if _, ok := w.NextExpiry(); ok || w.Len() != 0 {
		t.Fatalf("new wheel: NextExpiry ok = %v, Len = %d; want false, 0", ok, w.Len())
	}
	if n := w.AdvanceClock(); n != 0 {
		t.Fatalf("AdvanceClock on an empty wheel fired %d", n)
	}
}

// TestFireAtTickBoundary places one timer at distances covering every level,
// the level boundaries and the clamp beyond 2^32 ticks, then checks that it
// does not fire one nanosecond before its rounded-up deadline and does fire
// exactly at it, whether time gets there in one jump or in many steps.
func TestFireAtTickBoundary(t *testing.T) {
	const tick = time.Millisecond
	tests := []struct {
		name  string
		after time.Duration // deadline relative to the start
		steps int           // Advances on the way to just before the deadline
	}{
		{name: "1ns", after: 1, steps: 1},
		{name: "one tick", after: tick, steps: 1},
		{name: "one tick and 1ns", after: tick + 1, steps: 1},
		{name: "last level-0 slot", after: 255 * tick, steps: 7},
		{name: "first level-1 distance", after: 256 * tick, steps: 7},
		{name: "level 1 unaligned", after: 9999*tick + 1, steps: 13},
		{name: "level 1/2 boundary", after: (1 << 14) * tick, steps: 17},
		{name: "level 2", after: time.Minute + 7*tick, steps: 100},
		{name: "level 3", after: 3 * time.Hour, steps: 50},
		{name: "level 4", after: 20 * 24 * time.Hour, steps: 50},
		// Scheduled at tick 0, the next tick processed is 1: distances are
		// counted from there.
		{name: "last tick in range", after: (1 << 32) * tick, steps: 3},
		{name: "first tick out of range", after: (1<<32 + 1) * tick, steps: 3},
		{name: "clamped: a year", after: 365 * 24 * time.Hour, steps: 40},
		{name: "clamped: one jump", after: 3 * 365 * 24 * time.Hour, steps: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newFake(tick)
			fired := 0
			var tm Timer
			tm.Init(func() { fired++ })
			w.Schedule(&tm, epoch.Add(tt.after))
			due := epoch.Add(time.Duration(ceilDiv(tt.after, tick)) * tick)
			if !tm.When().Equal(due) {
				t.Fatalf("When() = %v, want %v", tm.When().Sub(epoch), due.Sub(epoch))
			}
			before := due.Add(-1)
			for i := 1; i <= tt.steps; i++ {
				w.Advance(epoch.Add(time.Duration(int64(before.Sub(epoch)) / int64(tt.steps) * int64(i))))
				checkNextExpiryBound(t, w, due)
			}
			if n := w.Advance(before); n != 0 || fired != 0 {
				t.Fatalf("Advance(deadline-1ns) fired %d", fired)
			}
			checkNextExpiryBound(t, w, due)
			if n := w.Advance(due); n != 1 || fired != 1 {
				t.Fatalf("Advance(deadline) returned %d, fired %d; want 1", n, fired)
			}
			if w.Len() != 0 || tm.Active() {
				t.Fatalf("after firing: Len = %d, Active = %v", w.Len(), tm.Active())
			}
			if n := w.Advance(due.Add(10 * 365 * 24 * time.Hour)); n != 0 {
				t.Fatalf("fired again: %d", n)
			}
		})
	}
}

func checkNextExpiryBound(t *testing.T, w *Wheel, due time.Time) {
	t.Helper()
	at, ok := w.NextExpiry()
	if !ok || at.After(due) || at.Before(w.Now()) {
		t.Fatalf("NextExpiry() = %v, %v at Now %v; want within [Now, %v]", at.Sub(epoch), ok, w.Now().Sub(epoch), due.Sub(epoch))
	}
}

// TestPastDeadlines: a deadline at or before the wheel's current tick fires
// on the next Advance, even one that does not move time.
func TestPastDeadlines(t *testing.T) {
	tests := []struct {
		name string
		when time.Duration // relative to the wheel's current time
	}{
		{name: "now", when: 0},
		{name: "1ns ago", when: -1},
		{name: "a day ago", when: -24 * time.Hour},
		{name: "before the wheel started", when: -100 * 365 * 24 * time.Hour},
		{name: "inside the current tick", when: 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newFake(10 * time.Millisecond)
			w.Advance(epoch.Add(time.Hour + 5*time.Millisecond)) // mid-tick
			fired := 0
			var tm Timer
			tm.Init(func() { fired++ })
			w.Schedule(&tm, w.Now().Add(tt.when))
			if tt.when > 0 {
				// 1h+8ms rounds up to the next tick: not due yet.
				if n := w.Advance(w.Now()); n != 0 {
					t.Fatalf("a deadline later in the current tick fired early")
				}
				if n := w.Advance(epoch.Add(time.Hour + 10*time.Millisecond)); n != 1 {
					t.Fatalf("fired %d at the next tick boundary, want 1", n)
				}
				return
			}
			if at, ok := w.NextExpiry(); !ok || !at.Equal(w.Now()) {
				t.Fatalf("NextExpiry() = %v, %v; want Now() for a due timer", at, ok)
			}
			if n := w.Advance(w.Now().Add(-time.Minute)); n != 1 || fired != 1 {
				t.Fatalf("Advance(earlier than Now) fired %d, want 1", fired)
			}
			if !w.Now().Equal(epoch.Add(time.Hour + 5*time.Millisecond)) {
				t.Fatalf("Now() went backwards to %v", w.Now())
			}
		})
	}
}

func TestStopAndReset(t *testing.T) {
	w, clk := newFake(time.Millisecond)
	fired := map[string]int{}
	var a, b, never Timer
	a.Init(func() { fired["a"]++ })
	b.Init(func() { fired["b"]++ })
	never.Init(func() { fired["never"]++ })

	if w.Stop(&a) {
		t.Fatal("Stop of an unscheduled timer returned true")
	}
	if w.Reset(&a, time.Second) {
		t.Fatal("Reset of an inactive timer returned true")
	}
	if !w.Reset(&a, 2*time.Second) {
		t.Fatal("Reset of an active timer returned false")
	}
	w.Add(&b, time.Second)
	w.Add(&never, time.Second)
	if !w.Stop(&never) || w.Stop(&never) {
		t.Fatal("Stop must return true once, then false")
	}
	if w.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", w.Len())
	}
	clk.now = epoch.Add(time.Second)
	w.AdvanceClock()
	if fired["a"] != 0 || fired["b"] != 1 {
		t.Fatalf("after 1s fired %v; a was moved to 2s", fired)
	}
	if w.Stop(&b) {
		t.Fatal("Stop of a fired timer returned true")
	}
	clk.now = epoch.Add(time.Hour)
	w.AdvanceClock()
	if want := map[string]int{"a": 1, "b": 1}; fmt.Sprint(fired) != fmt.Sprint(want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
}

// TestAddUsesClock: Add measures from the Clock, not from the wheel's
// lagging time, so a timer is never early against the real clock.
func TestAddUsesClock(t *testing.T) {
	w, clk := newFake(time.Millisecond)
	clk.now = epoch.Add(time.Minute) // the loop has not called Advance for a minute
	var tm Timer
	tm.Init(func() {})
	w.Add(&tm, time.Second)
	if want := epoch.Add(time.Minute + time.Second); !tm.When().Equal(want) {
		t.Fatalf("When() = %v, want %v (Clock + d)", tm.When(), want)
	}
	if n := w.Advance(epoch.Add(time.Minute + time.Second - 1)); n != 0 {
		t.Fatal("fired before Clock+d")
	}
}

// TestSameTickReschedule: rescheduling to the same tick keeps the timer
// armed once (the fast path), and a move to another tick really moves it.
func TestSameTickReschedule(t *testing.T) {
	w, _ := newFake(10 * time.Millisecond)
	fired := 0
	var tm Timer
	tm.Init(func() { fired++ })
	for i := range 100 {
		w.Schedule(&tm, epoch.Add(60*time.Second+time.Duration(i)*50*time.Microsecond)) // all in one tick
	}
	w.Schedule(&tm, epoch.Add(61*time.Second))
	w.Schedule(&tm, epoch.Add(60*time.Second))
	if w.Len() != 1 {
		t.Fatalf("Len() = %d, want 1", w.Len())
	}
	if n := w.Advance(epoch.Add(60*time.Second - 1)); n != 0 {
		t.Fatal("fired early")
	}
	if n := w.Advance(epoch.Add(60 * time.Second)); n != 1 {
		t.Fatalf("fired %d, want 1", n)
	}
	if n := w.Advance(epoch.Add(time.Hour)); n != 0 || fired != 1 {
		t.Fatalf("fired %d in total, want 1", fired)
	}
}

// TestOrder: timers fire in deadline order across ticks, whatever the order
// they were scheduled in and whatever level they started in.
func TestOrder(t *testing.T) {
	w, _ := newFake(time.Millisecond)
	offsets := []time.Duration{
		3 * time.Hour, 5 * time.Millisecond, 300 * time.Millisecond, 20 * time.Second,
		256 * time.Millisecond, 255 * time.Millisecond, 70 * time.Minute, 1, 17 * time.Second,
		40 * 24 * time.Hour, 90 * 24 * time.Hour,
	}
	var got []time.Duration
	timers := make([]Timer, len(offsets))
	for i, d := range offsets {
		timers[i].Init(func() { got = append(got, d) })
		w.Schedule(&timers[i], epoch.Add(d))
	}
	w.Advance(epoch.Add(365 * 24 * time.Hour))
	want := slices.Clone(offsets)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("fired in order %v, want %v", got, want)
	}
}

// TestCallbacks covers what callbacks do to the wheel while Advance runs.
func TestCallbacks(t *testing.T) {
	const tick = 10 * time.Millisecond
	tests := []struct {
		name string
		// run sets up the wheel, advances it and returns the trace; want is
		// the expected trace.
		run  func(w *Wheel) []string
		want []string
	}{
		{
			name: "re-arm with zero delay fires once per Advance",
			run: func(w *Wheel) []string {
				var trace []string
				var tm Timer
				tm.Init(func() {
					trace = append(trace, "fire")
					w.Schedule(&tm, w.Now())
				})
				w.Schedule(&tm, epoch.Add(tick))
				for i := range 3 {
					trace = append(trace, fmt.Sprintf("adv%d=%d", i, w.Advance(epoch.Add(time.Second))))
				}
				return trace
			},
			// The first fire (tick 1) re-arms for now, tick 100: later than
			// the tick being fired, so it fires again in the same Advance;
			// that fire re-arms for its own tick: the next Advance.
			want: []string{"fire", "fire", "adv0=2", "fire", "adv1=1", "fire", "adv2=1"},
		},
		{
			name: "periodic via When catches up within one Advance",
			run: func(w *Wheel) []string {
				var trace []string
				var tm Timer
				tm.Init(func() {
					trace = append(trace, fmt.Sprint(tm.When().Sub(epoch)))
					w.Schedule(&tm, tm.When().Add(100*time.Millisecond))
				})
				w.Schedule(&tm, epoch.Add(100*time.Millisecond))
				w.Advance(epoch.Add(350 * time.Millisecond))
				return trace
			},
			want: []string{"100ms", "200ms", "300ms"},
		},
		{
			name: "periodic via Add drops missed periods",
			run: func(w *Wheel) []string {
				var trace []string
				var tm Timer
				tm.Init(func() {
					trace = append(trace, fmt.Sprint(tm.When().Sub(epoch)))
					w.Add(&tm, 100*time.Millisecond)
				})
				w.Schedule(&tm, epoch.Add(100*time.Millisecond))
				w.clock = func() time.Time { return epoch.Add(350 * time.Millisecond) }
				w.Advance(epoch.Add(350 * time.Millisecond))
				trace = append(trace, "next "+fmt.Sprint(tm.When().Sub(epoch)))
				return trace
			},
			want: []string{"100ms", "next 450ms"},
		},
		{
			name: "stop a timer due in the same tick",
			run: func(w *Wheel) []string {
				var trace []string
				var a, b Timer
				// Same-tick order is unspecified: whichever fires first
				// stops the other, which then must not fire.
				a.Init(func() { trace = append(trace, "fired", fmt.Sprint(w.Stop(&b))) })
				b.Init(func() { trace = append(trace, "fired", fmt.Sprint(w.Stop(&a))) })
				w.Schedule(&a, epoch.Add(tick))
				w.Schedule(&b, epoch.Add(tick))
				trace = append(trace, fmt.Sprint(w.Advance(epoch.Add(tick))), fmt.Sprint(w.Len()))
				return trace
			},
			want: []string{"fired", "true", "1", "0"},
		},
		{
			name: "arm a new timer due later in the same Advance",
			run: func(w *Wheel) []string {
				var trace []string
				var a, b, c Timer
				a.Init(func() {
					trace = append(trace, "a")
					w.Schedule(&b, epoch.Add(3*tick)) // after a's tick, before now: this Advance
					w.Schedule(&c, epoch.Add(tick))   // a's own tick: the next Advance
				})
				b.Init(func() { trace = append(trace, "b") })
				c.Init(func() { trace = append(trace, "c") })
				w.Schedule(&a, epoch.Add(tick))
				trace = append(trace, fmt.Sprint(w.Advance(epoch.Add(5*tick))))
				trace = append(trace, fmt.Sprint(w.Advance(epoch.Add(5*tick))))
				return trace
			},
			want: []string{"a", "b", "2", "c", "1"},
		},
		{
			name: "move a timer due later in the same Advance",
			run: func(w *Wheel) []string {
				var trace []string
				var a, b Timer
				a.Init(func() { trace = append(trace, "a"); w.Schedule(&b, epoch.Add(time.Hour)) })
				b.Init(func() { trace = append(trace, "b") })
				w.Schedule(&a, epoch.Add(tick))
				w.Schedule(&b, epoch.Add(2*tick))
				w.Advance(epoch.Add(time.Minute))
				trace = append(trace, fmt.Sprint(b.When().Sub(epoch)))
				w.Advance(epoch.Add(time.Hour))
				return trace
			},
			want: []string{"a", "1h0m0s", "b"},
		},
		{
			name: "re-arm a full level-0 turn ahead waits a turn",
			run: func(w *Wheel) []string {
				var trace []string
				var tm Timer
				n := 0
				tm.Init(func() {
					trace = append(trace, fmt.Sprint(w.Now().Sub(epoch)))
					if n++; n < 2 {
						w.Schedule(&tm, tm.When().Add(256*tick)) // same level-0 slot
					}
				})
				w.Schedule(&tm, epoch.Add(tick))
				w.Advance(epoch.Add(tick))
				w.Advance(epoch.Add(256 * tick))
				w.Advance(epoch.Add(257 * tick))
				return trace
			},
			want: []string{"10ms", "2.57s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newFake(tick)
			if got := tt.run(w); !slices.Equal(got, tt.want) {
				t.Fatalf("trace %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCallbackPanic: a panicking callback propagates, leaves the wheel
// consistent, and the next Advance fires what this one had not reached.
func TestCallbackPanic(t *testing.T) {
	w, _ := newFake(time.Millisecond)
	var trace []string
	timers := make([]Timer, 4)
	for i := range timers {
		timers[i].Init(func() {
			trace = append(trace, fmt.Sprint(i))
			if i == 1 {
				panic("boom")
			}
		})
		w.Schedule(&timers[i], epoch.Add(time.Duration(i+1)*time.Millisecond))
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		w.Advance(epoch.Add(time.Second))
	}()
	if w.Len() != 2 {
		t.Fatalf("Len() = %d after the panic, want 2", w.Len())
	}
	if at, ok := w.NextExpiry(); !ok || !at.Equal(w.Now()) {
		t.Fatalf("NextExpiry() = %v, %v; want Now() since timers are overdue", at, ok)
	}
	if n := w.Advance(epoch.Add(time.Second)); n != 2 {
		t.Fatalf("the next Advance fired %d, want 2", n)
	}
	if want := []string{"0", "1", "2", "3"}; !slices.Equal(trace, want) {
		t.Fatalf("trace %v, want %v", trace, want)
	}
}

func TestMisusePanics(t *testing.T) {
	other, _ := newFake(time.Millisecond)
	tests := []struct {
		name string
		do   func(w *Wheel)
		want error
	}{
		{name: "negative tick", do: func(*Wheel) { New(Config{Tick: -1}) }, want: ErrInvalidTick},
		{name: "schedule without Init", do: func(w *Wheel) { w.Add(new(Timer), time.Second) }, want: ErrNoCallback},
		{name: "schedule a timer active elsewhere", want: ErrForeignTimer, do: func(w *Wheel) {
			var tm Timer
			tm.Init(func() {})
			other.Add(&tm, time.Second)
			w.Add(&tm, time.Second)
		}},
		{name: "stop a timer active elsewhere", want: ErrForeignTimer, do: func(w *Wheel) {
			var tm Timer
			tm.Init(func() {})
			other.Add(&tm, time.Second)
			w.Stop(&tm)
		}},
		{name: "Advance from a callback", want: ErrReentrantAdvance, do: func(w *Wheel) {
			var tm Timer
			tm.Init(func() { w.AdvanceClock() })
			w.Add(&tm, 0)
			w.AdvanceClock()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newFake(time.Millisecond)
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, tt.want) {
					t.Fatalf("panic %v, want %v", err, tt.want)
				}
			}()
			tt.do(w)
		})
	}
}

// TestMoveBetweenWheels: an inactive timer may go to another wheel.
func TestMoveBetweenWheels(t *testing.T) {
	a, _ := newFake(time.Millisecond)
	b, _ := newFake(time.Millisecond)
	fired := ""
	var tm Timer
	tm.Init(func() { fired += "x" })
	a.Add(&tm, time.Second)
	a.Stop(&tm)
	b.Add(&tm, time.Second)
	if a.Advance(epoch.Add(time.Hour)) != 0 || b.Advance(epoch.Add(time.Hour)) != 1 || fired != "x" {
		t.Fatalf("fired %q", fired)
	}
}

// TestLongGapSkipsEmptyTicks: after the loop slept for an hour at a 1 ms
// tick, Advance stops only at ticks where a slot fires or cascades, not at
// each of the 3.6 million ticks.
func TestLongGapSkipsEmptyTicks(t *testing.T) {
	tests := []struct {
		name     string
		offsets  []time.Duration
		maxTicks int // ticks Advance may stop at
	}{
		{name: "empty wheel", maxTicks: 0},
		{name: "one timer", offsets: []time.Duration{59 * time.Minute}, maxTicks: 4},
		{name: "beyond the hour", offsets: []time.Duration{2 * time.Hour}, maxTicks: 4},
		{name: "spread", offsets: []time.Duration{time.Millisecond, 2 * time.Second, 10 * time.Minute, 30 * time.Minute, 5 * time.Hour}, maxTicks: 4 * 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newFake(time.Millisecond)
			timers := make([]Timer, len(tt.offsets))
			for i, d := range tt.offsets {
				timers[i].Init(func() {})
				w.Schedule(&timers[i], epoch.Add(d))
			}
			w.Advance(epoch.Add(time.Hour))
			if w.eventTicks > tt.maxTicks {
				t.Fatalf("Advance over an hour stopped at %d ticks, budget %d", w.eventTicks, tt.maxTicks)
			}
		})
	}
}

// TestNextExpiryDrivesLoop runs the wheel the way the event loop does:
// sleep until NextExpiry, then Advance. Every timer must fire at exactly
// its rounded-up deadline, and cascades may cost only a few extra wake-ups.
func TestNextExpiryDrivesLoop(t *testing.T) {
	const tick = 10 * time.Millisecond
	w, clk := newFake(tick)
	offsets := []time.Duration{
		15 * time.Millisecond, 2*time.Second + 1, 2560 * time.Millisecond, 60 * time.Second, 60 * time.Second,
		90 * time.Second, 47 * time.Minute, 5 * time.Hour, 3 * 24 * time.Hour, 700 * 24 * time.Hour,
	}
	timers := make([]Timer, len(offsets))
	for i, d := range offsets {
		due := epoch.Add(time.Duration(ceilDiv(d, tick)) * tick)
		timers[i].Init(func() {
			if !w.Now().Equal(due) {
				t.Errorf("timer %d (%v) fired at %v, want exactly %v", i, d, w.Now().Sub(epoch), due.Sub(epoch))
			}
		})
		w.Schedule(&timers[i], epoch.Add(d))
	}
	wakeups, fired := 0, 0
	for {
		at, ok := w.NextExpiry()
		if !ok {
			break
		}
		wakeups++
		clk.now = at
		fired += w.AdvanceClock()
	}
	if fired != len(offsets) {
		t.Fatalf("fired %d, want %d", fired, len(offsets))
	}
	// Each timer cascades at most once per level, plus re-cascades of the
	// 700-day one beyond the wheel's range.
	if budget := 5 * len(offsets); wakeups > budget {
		t.Fatalf("%d wake-ups for %d timers, budget %d", wakeups, fired, budget)
	}
}

// TestZeroAllocs: the hot path does not allocate.
func TestZeroAllocs(t *testing.T) {
	w, clk := newFake(time.Millisecond)
	timers := make([]Timer, 1024)
	for i := range timers {
		timers[i].Init(func() {})
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		tm := &timers[i%len(timers)]
		i++
		w.Schedule(tm, clk.now.Add(time.Duration(i%5000)*time.Millisecond))
		w.Reset(tm, time.Duration(i%70)*time.Second)
		w.Stop(&timers[(i*7)%len(timers)])
		w.Add(tm, time.Duration(i%300)*time.Millisecond)
		clk.now = clk.now.Add(3 * time.Millisecond)
		w.AdvanceClock()
		w.NextExpiry()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Schedule/Reset/Stop/Add/Advance/NextExpiry round, want 0", allocs)
	}
}
