// Package timingwheel is a hierarchical timing wheel: a timer queue for an
// event loop that holds up to millions of timers (connection idle timeouts,
// read and write deadlines, heartbeat kicks, "run this on the loop after d")
// at a few dozen bytes each, with O(1) schedule, reschedule and stop.
//
// # Using it
//
// Create one Wheel per event loop with New, embed a Timer in each object
// that needs a deadline, set its callback once with Timer.Init, and arm it
// with Wheel.Add (relative to the Clock), Wheel.Schedule (absolute) or
// Wheel.Reset. The loop asks Wheel.NextExpiry how long it may sleep and
// calls Wheel.AdvanceClock after every wake-up; the due callbacks run
// inside that call, on the loop's goroutine:
//
//	for {
//		timeout := -1 // block until I/O
//		if at, ok := w.NextExpiry(); ok {
//			// Round up: waking before the deadline would only spin.
//			timeout = int((time.Until(at) + time.Millisecond - 1) / time.Millisecond)
//			timeout = max(timeout, 0)
//		}
//		n, _ := unix.EpollWait(epfd, events, timeout)
//		handle(events[:n]) // may Add, Reset or Stop timers
//		w.AdvanceClock()
//	}
//
// An idle timeout is one Reset per received packet; Reset to the same tick
// (packets closer together than the tick) returns at once. With a million
// busy connections a cheaper pattern is to store the time of the last
// packet in the connection (the loop's cached time of its latest wake-up)
// and let the timer fire once per timeout period: the callback closes the
// connection if it really was idle for the whole period and otherwise
// re-arms itself with Schedule(t, last.Add(timeout)). A packet then costs
// one store instead of moving a timer between lists in memory that is
// probably not in cache.
//
// # Goroutines
//
// A Wheel and its Timers are owned by one goroutine, the event loop. No
// method is safe for concurrent use and none takes a lock: that is what
// keeps Schedule and Stop at a few nanoseconds. Other goroutines hand work
// to the loop (through its task queue and eventfd wake-up) instead of
// touching the wheel. Callbacks run on the owner's goroutine inside Advance
// and should be short; a callback that blocks stalls the loop.
//
// # Time and ticks
//
// Time is counted in ticks of Config.Tick (10 ms by default) from the
// wheel's start, the Clock's time when New ran. A deadline D fires at tick
// ceil((D-start)/Tick): the first Advance(now) with now >= that tick's time
// fires it. So a timer never fires before its deadline, and fires at most one
// tick after it provided Advance is called on time. Timer.When reports that
// rounded-up deadline. A deadline that is not after the wheel's Now() when
// scheduled fires on the next Advance, whatever time that Advance is given.
//
// The wheel's own time, Wheel.Now, moves only when Advance is called. Add
// and Reset measure from the Clock instead, so a timer armed long after the
// last Advance is still not early against real time.
//
// # Ordering and re-entrancy
//
// Advance fires timers in deadline-tick order. Within one tick the order is
// unspecified, and timers scheduled with deadlines already past all fire
// first, in unspecified order. Callbacks may Schedule, Reset and Stop any
// timer, including their own; a stopped timer never fires, even when it was
// due in the same Advance. A timer armed from a callback fires in the same
// Advance only if its deadline is not after the Advance's now and its tick
// is later than the tick being fired; otherwise it waits for a later
// Advance. The walk of ticks only moves forward, so a callback that keeps
// re-arming itself fires at most once per tick and Advance always returns.
// A periodic tick hook re-armed with Wheel.Add(t, period) fires at most
// once per Advance after a stall (like time.Ticker, it drops the missed
// periods, because Add counts from the Clock, which is past now); re-armed
// from its own tick, Schedule(t, t.When().Add(period)), it instead catches
// up on the missed periods within one Advance.
//
// # Design
//
// The wheel follows the classic Linux kernel timer wheel (and Kafka's
// hierarchical one): five levels of slots, each slot a circular doubly
// linked list with a sentinel node, so Stop unlinks a Timer in O(1) without
// the Timer knowing its slot. Level 0 has 256 slots of one tick; levels 1 to
// 4 have 64 slots each, of 2^8, 2^14, 2^20 and 2^26 ticks. A timer goes to
// the lowest level whose span covers its distance, and when the walk of
// time reaches a higher-level slot's turn, the slot's timers are
// re-placed ("cascaded") into lower levels, each at most once per level.
// Deadlines beyond the 2^32-tick range are parked in the outermost level
// and cascaded again each time its slot turns, so any deadline is kept with
// bounded memory.
//
// Why these sizes: 8+6+6+6+6 = 32 bits of ticks cover 497 days at the
// default 10 ms tick and 49 days at 1 ms, so clamping is rare. A 256-slot
// level 0 holds every deadline up to 2.56 s (at 10 ms) without any cascade,
// which covers the short timers of an event loop (write retries, "after d"
// tasks); the 64-slot levels above keep each level's occupancy in one uint64,
// so finding the next non-empty slot is a rotate and a TrailingZeros.
// A 60 s idle timeout at 10 ms lands in level 1 and cascades once. The fixed
// cost is 512 sentinel nodes, about 20 KiB per wheel.
//
// Per-level occupancy bitmaps (math/bits) let Advance jump straight to the
// next tick at which a slot fires or cascades, so catching up after the
// loop was stopped for an hour at a 1 ms tick costs a handful of steps, not
// 3.6 million; the same bitmaps give NextExpiry in O(1).
//
// # Memory
//
// A Timer is 40 bytes on 64-bit platforms: two list links, the owning
// wheel (so Timer.When works and a timer cannot be moved between wheels by
// mistake), the callback and the deadline tick. Embedded in a connection it
// costs no allocation; the callback is typically a method value bound once
// at Init (one allocation per connection, not per arm).
//
// # Misuse
//
// Calls that cannot be right panic at once instead of corrupting the wheel:
// arming a Timer without a callback (ErrNoCallback), using a Timer active
// on another wheel (ErrForeignTimer), calling Advance from a callback
// (ErrReentrantAdvance) and a negative Config.Tick (ErrInvalidTick).
package timingwheel
