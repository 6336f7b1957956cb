package timingwheel

import "time"

// Timer is one deadline on a Wheel. It is intrusive: embed it by value in
// the object it times (a connection, a session) so that a million timers
// cost no allocation beyond the objects themselves, 40 bytes each on 64-bit
// platforms.
//
// The zero Timer is inactive and has no callback; call Init before the
// first Schedule. A Timer belongs to at most one Wheel at a time: once it
// has fired or been stopped it may be scheduled on another one. A Timer must
// not be copied while it is active (the wheel's lists point at it).
//
// A Timer is owned by the goroutine that owns its Wheel (see the package
// documentation); its methods are not safe for concurrent use.
type Timer struct {
	_ noCopy // go vet's copylocks check flags copies

	// next and prev link t into one circular list: a wheel slot, the
	// wheel's due list or the list Advance is firing. Both are nil iff t
	// is inactive, which is what makes Stop O(1) without a head pointer:
	// the list's sentinel is found through the neighbours when needed.
	next, prev *Timer

	// w is the wheel t was last scheduled on. It stays set after t fires
	// or is stopped so that When keeps working, and lets Schedule and Stop
	// catch a timer used on two wheels at once.
	w *Wheel

	// f is the callback, set by Init, run by Advance.
	f func()

	// expire is the deadline in ticks since w.start, rounded up to the
	// tick grid (it can be negative for deadlines before the wheel
	// started). In a sentinel it is instead the slot's index into
	// Wheel.slots, or -1 for the lists that have no occupancy bit.
	expire int64
}

// Init sets the function that Advance calls when t fires. It is cheap and
// may be called again to change the callback; a change made while t is
// active takes effect when t fires. Init does not schedule t.
//
// Call it from the goroutine that owns the wheel t is (or will be)
// scheduled on, or before t is handed to that goroutine.
func (t *Timer) Init(f func()) { t.f = f }

// Active reports whether t is scheduled and has neither fired nor been
// stopped. A callback that runs sees its own timer as inactive, so it can
// re-arm it. Call it from the goroutine that owns t's wheel.
func (t *Timer) Active() bool { return t.next != nil }

// When returns the time of the tick t fires at, as last scheduled: its
// deadline rounded up to the wheel's tick grid, the earliest time that,
// passed to Advance, fires t. A deadline that was not after the wheel's
// Now() when scheduled is due at once; When then reports the deadline's own
// tick or the start of the tick containing Now(), whichever is earlier. It
// keeps reporting the last deadline after t fires or is stopped, and returns
// the zero Time for a Timer that was never scheduled. Call it from the
// goroutine that owns t's wheel.
func (t *Timer) When() time.Time {
	if t.w == nil {
		return time.Time{}
	}
	return t.w.tickTime(t.expire)
}

// linkBefore inserts t just before node s in s's circular list; with s a
// sentinel that appends t at the list's tail.
func linkBefore(s, t *Timer) {
	p := s.prev
	t.prev = p
	t.next = s
	p.next = t
	s.prev = t
}

// spliceAll moves every node of the list headed by sentinel src to the tail
// of the list headed by sentinel dst, in order, in O(1). src must not be
// empty; it is left empty.
func spliceAll(dst, src *Timer) {
	first, last := src.next, src.prev
	tail := dst.prev
	tail.next = first
	first.prev = tail
	last.next = dst
	dst.prev = last
	src.next = src
	src.prev = src
}

// noCopy makes go vet report copies of a Timer: a copy of an active Timer
// would leave the wheel's lists pointing at the original. It occupies no
// space (it is the first field, so it adds no padding either).
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
