package timingwheel

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// DefaultTick is the resolution used when Config.Tick is zero. Ten
// milliseconds is Linux's classic HZ=100 jiffy: epoll_wait counts its
// timeout in milliseconds anyway, idle timeouts and heartbeats are counted
// in seconds, and at 10 ms the wheel's 2^32 ticks reach 497 days before a
// deadline has to be clamped and re-cascaded.
const DefaultTick = 10 * time.Millisecond

// The wheel's geometry. See the package documentation for why these sizes.
const (
	level0Bits  = 8
	level0Size  = 1 << level0Bits // slots in level 0, one per tick
	levelBits   = 6
	levelSize   = 1 << levelBits // slots in each higher level: one uint64 bitmap
	numLevels   = 5
	upperLevels = numLevels - 1
	wheelBits   = level0Bits + upperLevels*levelBits // 32 bits of ticks in range
	numSlots    = level0Size + upperLevels*levelSize // 512 sentinels
	maxSpan     = 1<<wheelBits - 1                   // farthest tick offset placed as is
)

// Config configures a Wheel. The zero Config is valid: a 10 ms tick on the
// real clock.
type Config struct {
	// Tick is the resolution. Deadlines are rounded up to a multiple of
	// Tick counted from the wheel's start, so a timer fires at most one
	// Tick after its deadline (given an Advance at that time). Zero means
	// DefaultTick (10 ms); negative makes New panic with ErrInvalidTick.
	Tick time.Duration

	// Clock returns the current time. nil means time.Now. It is read once
	// by New (the wheel's start), by Add and Reset (so a relative timer is
	// never early against this clock however far Advance lags) and by
	// AdvanceClock. Inject a fake clock for deterministic tests; keep the
	// monotonic reading (use time.Now or times derived from it with Add)
	// in production so wall-clock steps do not move deadlines.
	Clock func() time.Time
}

// Wheel is a hierarchical timing wheel: it holds Timers and fires the due
// ones when the owner calls Advance.
//
// A Wheel is owned by one goroutine, normally an event loop: every method,
// and every method of every Timer on it, must be called from that goroutine
// (or with equivalent external synchronisation). There are no locks on the
// hot path; the race detector will report sharing.
type Wheel struct {
	// All fields are owned by the goroutine that owns the wheel.

	tick  time.Duration    // resolution, > 0
	clock func() time.Time // Config.Clock or time.Now
	start time.Time        // time of tick 0; every deadline is counted in ticks from here
	now   time.Time        // the latest time given to Advance (never decreases), start before the first

	nowOff  time.Duration // now - start
	nowTick int64         // the tick now falls in: floor(nowOff / tick)

	// cur is the last processed tick. Invariant: every active timer with
	// expire <= cur is in due or firing; every other active timer sits in
	// a slot from which the walk of ticks cur+1, cur+2, ... will fire it
	// exactly at tick expire (directly, or after cascading down), or reach
	// it earlier and re-place it (after Schedule moved it later in place).
	cur int64

	n          int  // active timers
	advancing  bool // an Advance is running: callbacks may not call Advance
	eventTicks int  // ticks Advance stopped at (it skips the others); read by tests

	// Occupancy bitmaps: a bit is set iff the matching slot list is not
	// empty. They let Advance and NextExpiry jump over empty slots with a
	// few bit operations instead of visiting every tick.
	occ0 [level0Size / 64]uint64 // level 0, bit i for slots[i]
	occ  [upperLevels]uint64     // level l+1, bit j for slots[level0Size+l*levelSize+j]

	due    Timer // sentinel: deadline already passed when scheduled; fired by the next Advance
	firing Timer // sentinel: timers the running Advance is about to fire
	spill  Timer // sentinel: scratch list while a slot cascades

	// slots are the sentinels of the slot lists: level 0 (one slot per
	// tick) first, then levelSize slots for each higher level.
	slots [numSlots]Timer
}

// New returns an empty Wheel whose current time is cfg.Clock(). It panics
// with an error wrapping ErrInvalidTick if cfg.Tick is negative, as
// time.NewTicker does for a bad period. The returned Wheel belongs to the
// goroutine that will call its methods.
func New(cfg Config) *Wheel {
	if cfg.Tick == 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Tick < 0 {
		panic(fmt.Errorf("%w: got %v", ErrInvalidTick, cfg.Tick))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	w := &Wheel{tick: cfg.Tick, clock: cfg.Clock}
	w.start = cfg.Clock()
	w.now = w.start
	for i := range w.slots {
		s := &w.slots[i]
		s.next, s.prev, s.expire = s, s, int64(i)
	}
	for _, s := range []*Timer{&w.due, &w.firing, &w.spill} {
		s.next, s.prev, s.expire = s, s, -1
	}
	return w
}

// Now returns the wheel's current time: the latest time passed to Advance
// (or AdvanceClock), or the start time before the first. Inside a callback
// it is already the time of the running Advance. It lags the real clock by
// however long the owner waits between Advances; Add uses the Clock instead.
func (w *Wheel) Now() time.Time { return w.now }

// Len returns the number of active timers, including those a running
// Advance has not fired yet.
func (w *Wheel) Len() int { return w.n }

// Schedule arms t to fire at when, rounded up to the tick grid. If t is
// already active it is moved, which is how Reset works; the old deadline is
// forgotten. A deadline not after Now() is already due: it fires on the next
// Advance (for timers armed by callbacks see Advance). Moving an active timer
// to a later deadline, the common case of an idle-timeout reset, writes only
// the timer: it stays in its slot and is re-placed when the wheel reaches
// that slot; moving it earlier relinks it. Deadlines more than
// 2^32 ticks ahead are kept exactly but parked in the outermost level and
// re-cascaded until they come in range, so memory stays bounded however far
// they are.
//
// Schedule is O(1) and does not allocate. It may be called from callbacks,
// on any timer including the one firing. It panics with ErrNoCallback if t
// has no callback and with ErrForeignTimer if t is active on another wheel.
func (w *Wheel) Schedule(t *Timer, when time.Time) {
	if t.f == nil {
		panic(ErrNoCallback)
	}
	d := when.Sub(w.start)
	e := ceilTick(d, w.tick)
	if e > w.nowTick && d <= w.nowOff {
		// A deadline inside the current tick but not after now is due
		// now, not at the next tick boundary.
		e = w.nowTick
	}
	if t.next != nil {
		if t.w != w {
			panic(ErrForeignTimer)
		}
		if e >= t.expire && t.expire > w.cur {
			// Moved later (or to the same tick) while still in the wheel
			// proper (due and firing only hold expire <= cur): leave it in
			// its slot, which is now early, and let the walk re-place it
			// when it gets there (see fire and cascade). An idle-timeout
			// Reset per packet thus touches only the timer, not two list
			// neighbours in memory that is probably not in cache.
			t.expire = e
			return
		}
		w.unlink(t)
	} else {
		w.n++
	}
	t.w = w
	t.expire = e
	w.place(t)
}

// Add arms t to fire d after the Clock's current time (not after Now, which
// may lag), moving it if it is already active. See Schedule.
func (w *Wheel) Add(t *Timer, d time.Duration) {
	w.Schedule(t, w.clock().Add(d))
}

// Reset is Add that also reports whether t was active before the call, like
// time.Timer.Reset. See Schedule.
func (w *Wheel) Reset(t *Timer, d time.Duration) bool {
	active := t.next != nil
	w.Add(t, d)
	return active
}

// Stop disarms t in O(1) and reports whether it was active. After Stop
// returns t will not fire (even if Stop is called from a callback of the
// same Advance that was about to fire it). Stopping an inactive timer does
// nothing and returns false; it panics with ErrForeignTimer if t is active
// on another wheel.
func (w *Wheel) Stop(t *Timer) bool {
	if t.next == nil {
		return false
	}
	if t.w != w {
		panic(ErrForeignTimer)
	}
	w.unlink(t)
	w.n--
	return true
}

// Advance moves the wheel's time to now and runs, on the calling goroutine,
// the callback of every timer that is due: every timer whose deadline,
// rounded up to the tick grid, is at or before now, and every timer that
// was scheduled with a deadline already in the past. It returns how many
// callbacks it ran. A now earlier than Now() is treated as Now(): time
// never goes backwards.
//
// Timers with different deadline ticks fire in deadline order; the order
// within one tick is unspecified (and so is the order among timers that
// were scheduled with past deadlines, which all fire first).
//
// Callbacks may Schedule, Reset and Stop any timer, including their own.
// Inside a callback Now() is already this Advance's now, while the walk has
// only reached the tick of the timer being fired. A timer armed by a
// callback fires in this same Advance if its deadline is not after now and
// its tick is later than the tick being fired (a deadline in the partial
// tick that contains now counts as that tick); otherwise it waits for a
// later Advance. In particular a timer re-armed for the tick being fired or
// earlier (t.When(), or Now() while the last tick fires) fires on the next
// Advance. The walk only moves forward, so a callback that keeps re-arming
// itself fires at most once per tick and Advance always returns. Calling
// Advance from a callback panics
// with ErrReentrantAdvance. If a callback panics the panic propagates; the
// wheel stays consistent and the next Advance fires the timers that this one
// had not reached.
//
// The cost is O(1) per fired timer, O(1) per occupied slot reached, and
// O(1) per timer cascaded (each timer cascades at most once per level,
// more only if its deadline was beyond 2^32 ticks). Empty stretches, even
// hours of them at a 1 ms tick, are skipped with bitmap lookups. Advance
// does not allocate.
func (w *Wheel) Advance(now time.Time) int {
	if w.advancing {
		panic(ErrReentrantAdvance)
	}
	w.advancing = true
	defer w.endAdvance()

	if now.After(w.now) {
		w.now = now
		w.nowOff = now.Sub(w.start)
		w.nowTick = floorTick(w.nowOff, w.tick)
	}
	target := w.nowTick

	// Timers whose deadline had already passed when they were scheduled,
	// plus any a panicking callback left behind in firing.
	if w.due.next != &w.due {
		spliceAll(&w.firing, &w.due)
	}
	fired := w.fire()

	for w.cur < target {
		k, ok := w.nextEventTick()
		if !ok || k > target {
			w.cur = target
			break
		}
		w.eventTicks++
		// Cascade as if tick k were the next one to process, so that
		// place() puts timers due at k into level-0 slot k.
		w.cur = k - 1
		w.cascade(k)
		w.cur = k
		s := &w.slots[k&(level0Size-1)]
		if s.next != s {
			// Detach the whole slot before running callbacks: a callback
			// arming a timer level0Size ticks ahead reuses this slot, and
			// that timer must wait a full turn.
			spliceAll(&w.firing, s)
			w.clearBit(s.expire)
			fired += w.fire()
		}
	}
	return fired
}

func (w *Wheel) endAdvance() { w.advancing = false }

// AdvanceClock is Advance(Clock()): the usual call at the end of each event
// loop iteration.
func (w *Wheel) AdvanceClock() int {
	return w.Advance(w.clock())
}

// NextExpiry returns the earliest time at which Advance might fire a timer,
// and false when the wheel has no active timers. The result is never later
// than the earliest deadline (rounded up to the tick grid) and never earlier
// than Now(); it is Now() when a timer is already due.
//
// It is a lower bound, not always the exact deadline: when the earliest
// timer still sits in a higher level, the result is the tick at which its
// slot cascades down, which can be up to 2^32 ticks early, and a timer moved
// to a later deadline is found at its old slot's tick. An Advance at that
// time may fire nothing; ask again afterwards (each cascade or re-placement
// costs at most one wake-up per occupied slot). The event loop uses it as its epoll
// timeout, rounding up to whole milliseconds so as not to spin.
//
// NextExpiry is O(1) (a few bitmap words) and does not allocate.
func (w *Wheel) NextExpiry() (time.Time, bool) {
	if w.n == 0 {
		return time.Time{}, false
	}
	if w.due.next != &w.due || w.firing.next != &w.firing {
		return w.now, true
	}
	k, ok := w.nextEventTick()
	if !ok {
		return time.Time{}, false // unreachable while n > 0 and due, firing are empty
	}
	at := w.tickTime(k)
	if at.Before(w.now) {
		// Only after a callback panicked: Advance stopped short of now.
		at = w.now
	}
	return at, true
}

// fire runs and removes the timers in the firing list, in order, and returns
// how many it ran. Each timer is unlinked and counted out before its
// callback runs, so the callback sees it inactive and may re-arm it, and a
// panic leaves the rest in place for the next Advance. A timer whose
// deadline was moved later while it waited in its slot is re-placed instead
// of fired.
func (w *Wheel) fire() int {
	f := &w.firing
	n := 0
	for {
		t := f.next
		if t == f {
			return n
		}
		f.next = t.next
		t.next.prev = f
		if t.expire > w.cur {
			w.place(t)
			continue
		}
		t.next, t.prev = nil, nil
		w.n--
		n++
		t.f()
	}
}

// place links t (active, counted, with t.expire set, not linked) into the
// list that will fire it, treating cur+1 as the next tick to be processed:
//
//   - expire <= cur: the due list;
//   - expire - (cur+1) < 256: level-0 slot expire mod 256;
//   - otherwise the level l whose span covers the distance, slot
//     (expire >> shift(l)) mod 64, where shift(l) = 8 + 6(l-1).
//
// The level-l slot is cascaded when the walk reaches the first tick that is
// a multiple of 2^shift(l) with that slot index. Because the distance is
// below 2^(shift(l)+6), that tick is exactly (expire >> shift(l)) <<
// shift(l): at most expire, and less than 2^shift(l) before it, so the
// re-placed timer lands in a strictly lower level and reaches level 0 in
// time to fire at tick expire exactly. Distances beyond maxSpan are
// placed as if they were maxSpan (the outermost level); the cascade then
// re-places them from the real expire, further on each turn.
func (w *Wheel) place(t *Timer) {
	e := t.expire
	b := w.cur + 1
	if e < b {
		linkBefore(&w.due, t)
		return
	}
	delta := uint64(e - b)
	var i int
	if delta < level0Size {
		i = int(e & (level0Size - 1))
		w.occ0[i>>6] |= 1 << (i & 63)
	} else {
		if delta > maxSpan {
			delta = maxSpan
			e = b + maxSpan
		}
		l := (bits.Len64(delta) - level0Bits - 1) / levelBits // 0 for level 1
		j := int(e>>(level0Bits+l*levelBits)) & (levelSize - 1)
		w.occ[l] |= 1 << j
		i = level0Size + l*levelSize + j
	}
	linkBefore(&w.slots[i], t)
}

// unlink removes active t from whatever list holds it and clears the
// occupancy bit if that emptied a slot. It does not touch n.
func (w *Wheel) unlink(t *Timer) {
	p, n := t.prev, t.next
	p.next = n
	n.prev = p
	t.next, t.prev = nil, nil
	if p == n {
		// Only the sentinel is left (a list always holds its sentinel).
		w.clearBit(p.expire)
	}
}

// clearBit clears the occupancy bit of slot index i (a sentinel's expire);
// the negative index of due, firing and spill has no bit.
func (w *Wheel) clearBit(i int64) {
	switch {
	case i < 0:
	case i < level0Size:
		w.occ0[i>>6] &^= 1 << (i & 63)
	default:
		i -= level0Size
		w.occ[i>>levelBits] &^= 1 << (i & (levelSize - 1))
	}
}

// cascade re-places the timers of every higher-level slot whose turn comes
// at tick k, lowest level first (a level's slots only turn over when the
// level below wraps to slot 0). cur must be k-1. Timers from level l land in
// a lower level or in a level-l slot other than the one being emptied, so
// one pass per level suffices.
func (w *Wheel) cascade(k int64) {
	for l := range upperLevels {
		shift := level0Bits + l*levelBits
		if k&(1<<shift-1) != 0 {
			return
		}
		j := int(k>>shift) & (levelSize - 1)
		if w.occ[l]&(1<<j) == 0 {
			continue
		}
		w.occ[l] &^= 1 << j
		spliceAll(&w.spill, &w.slots[level0Size+l*levelSize+j])
		for s := &w.spill; s.next != s; {
			t := s.next
			s.next = t.next
			t.next.prev = s
			w.place(t)
		}
	}
}

// nextEventTick returns the first tick after cur at which Advance has work:
// a non-empty level-0 slot comes up, or a non-empty higher-level slot
// cascades. It reports false when every slot is empty. The due and firing
// lists are not considered.
func (w *Wheel) nextEventTick() (int64, bool) {
	cur := w.cur
	best, ok := int64(math.MaxInt64), false
	if d, found := nextSet256(&w.occ0, int((cur+1)&(level0Size-1))); found {
		best, ok = cur+1+int64(d), true
	}
	for l, m := range w.occ {
		shift := level0Bits + l*levelBits
		// The slots of level l+1 turn over at multiples of 2^shift; the
		// first after cur is base<<shift, slot base mod 64, and slot
		// (base+i) mod 64 turns over i multiples later.
		base := cur>>shift + 1
		if best <= base<<shift {
			// This level, and every higher one, cannot turn over before best.
			break
		}
		if m == 0 {
			continue
		}
		i := bits.TrailingZeros64(bits.RotateLeft64(m, -int(base&(levelSize-1))))
		if k := (base + int64(i)) << shift; k < best {
			best, ok = k, true
		}
	}
	return best, ok
}

// nextSet256 returns the distance d in [0, 256) such that bit (from+d) mod
// 256 of b is the first set bit at or after from, cyclically.
func nextSet256(b *[level0Size / 64]uint64, from int) (int, bool) {
	wi := from >> 6
	x := b[wi] &^ (1<<(from&63) - 1) // drop bits below from in its word
	for i := range len(b) + 1 {      // the last pass rereads word wi for the wrapped low bits
		if x != 0 {
			pos := ((wi+i)&(len(b)-1))<<6 + bits.TrailingZeros64(x)
			return (pos - from) & (level0Size - 1), true
		}
		x = b[(wi+i+1)&(len(b)-1)]
	}
	return 0, false
}

// ceilTick returns the first tick at or after offset d from the start
// (the tick a deadline fires at). Offsets come from time.Time.Sub, which
// saturates, so extreme times give extreme ticks without overflow.
func ceilTick(d, tick time.Duration) int64 {
	k := int64(d / tick)
	if d%tick > 0 {
		k++
	}
	return k
}

// floorTick returns the last tick at or before offset d from the start.
func floorTick(d, tick time.Duration) int64 {
	k := int64(d / tick)
	if d%tick < 0 {
		k--
	}
	return k
}

// tickTime returns the time of tick k, saturating where k*tick would
// overflow a Duration.
func (w *Wheel) tickTime(k int64) time.Time {
	switch lim := int64(math.MaxInt64 / w.tick); {
	case k > lim:
		return w.start.Add(math.MaxInt64)
	case k < -lim:
		return w.start.Add(math.MinInt64)
	}
	return w.start.Add(time.Duration(k) * w.tick)
}
