package timingwheel_test

import (
	"fmt"
	"time"

	"wharf/timingwheel"
)

// manualClock stands in for time.Now so the examples are deterministic.
type manualClock struct{ now time.Time }

func (c *manualClock) Now() time.Time                  { return c.now }
func (c *manualClock) Sleep(d time.Duration)           { c.now = c.now.Add(d) }
func (c *manualClock) Since(t time.Time) time.Duration { return c.now.Sub(t) }

var start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// conn is a connection with an idle timeout: the Timer is embedded, so a
// million connections need no timer allocations.
type conn struct {
	id   int
	idle timingwheel.Timer
	w    *timingwheel.Wheel
}

const idleTimeout = 60 * time.Second

func newConn(w *timingwheel.Wheel, id int) *conn {
	c := &conn{id: id, w: w}
	c.idle.Init(c.onIdle) // bound once per connection, not per packet
	w.Add(&c.idle, idleTimeout)
	return c
}

// onPacket runs on the event loop for every packet received: it pushes the
// idle deadline out. Resets within one tick cost a comparison.
func (c *conn) onPacket() { c.w.Reset(&c.idle, idleTimeout) }

// onClose runs when the peer closes: the timer must not fire afterwards.
func (c *conn) onClose() { c.w.Stop(&c.idle) }

func (c *conn) onIdle() { fmt.Printf("conn %d idle, closing\n", c.id) }

// Embedding a Timer in a connection for its idle timeout.
func Example_idleTimeout() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	a := newConn(w, 1)
	newConn(w, 2)
	c := newConn(w, 3)
	clk.Sleep(40 * time.Second)
	a.onPacket() // conn 1 is busy: its deadline moves to 100s
	c.onClose()  // conn 3 went away
	clk.Sleep(30 * time.Second)
	fmt.Println("at 70s:", w.AdvanceClock(), "closed,", w.Len(), "left") // conn 2 timed out at 60s
	clk.Sleep(30 * time.Second)
	fmt.Println("at 100s:", w.AdvanceClock(), "closed,", w.Len(), "left")
	// Output:
	// conn 2 idle, closing
	// at 70s: 1 closed, 1 left
	// conn 1 idle, closing
	// at 100s: 1 closed, 0 left
}

func ExampleNew() {
	// One wheel per event loop; in production leave Clock nil (time.Now).
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Tick: time.Millisecond, Clock: clk.Now})
	fmt.Println(w.Now().Equal(start), w.Len())
	// Output: true 0
}

func ExampleWheel_Add() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() { fmt.Println("ran at", clk.Since(start)) })
	w.Add(&t, 250*time.Millisecond) // "run this on the loop after 250ms"
	for range 4 {
		clk.Sleep(100 * time.Millisecond)
		w.AdvanceClock()
	}
	// Output: ran at 300ms
}

func ExampleWheel_Advance() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Tick: 10 * time.Millisecond, Clock: clk.Now})
	timers := make([]timingwheel.Timer, 3)
	for i, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		timers[i].Init(func() { fmt.Println("deadline", d) })
		w.Add(&timers[i], d)
	}
	// The loop was away for an hour: one call fires everything, in
	// deadline order, skipping the empty ticks.
	n := w.Advance(start.Add(time.Hour))
	fmt.Println(n, "fired")
	// Output:
	// deadline 1s
	// deadline 2s
	// deadline 3s
	// 3 fired
}

func ExampleWheel_AdvanceClock() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() { fmt.Println("fired") })
	w.Add(&t, time.Second)
	clk.Sleep(999 * time.Millisecond)
	fmt.Println(w.AdvanceClock()) // the end of an event loop iteration
	clk.Sleep(time.Millisecond)
	fmt.Println(w.AdvanceClock())
	// Output:
	// 0
	// fired
	// 1
}

func ExampleWheel_NextExpiry() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Tick: 10 * time.Millisecond, Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() {})
	w.Add(&t, 1234*time.Millisecond)
	if at, ok := w.NextExpiry(); ok {
		// An event loop rounds up to milliseconds for epoll_wait.
		timeout := (at.Sub(clk.Now()) + time.Millisecond - 1) / time.Millisecond
		fmt.Println("epoll timeout:", int(timeout), "ms")
	}
	w.Stop(&t)
	_, ok := w.NextExpiry()
	fmt.Println("any timers:", ok)
	// Output:
	// epoll timeout: 1240 ms
	// any timers: false
}

func ExampleWheel_Schedule() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() { fmt.Println("deadline reached") })
	w.Schedule(&t, start.Add(24*time.Hour)) // an absolute deadline
	w.Schedule(&t, start.Add(time.Minute))  // moved, not duplicated
	fmt.Println(w.Len(), t.When().Sub(start))
	w.Advance(start.Add(48 * time.Hour))
	// Output:
	// 1 1m0s
	// deadline reached
}

func ExampleWheel_Reset() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() {})
	fmt.Println(w.Reset(&t, time.Second)) // was inactive
	fmt.Println(w.Reset(&t, time.Minute)) // was active: moved
	fmt.Println(t.When().Sub(start))
	// Output:
	// false
	// true
	// 1m0s
}

func ExampleWheel_Stop() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() { fmt.Println("never printed") })
	w.Add(&t, time.Second)
	fmt.Println(w.Stop(&t), w.Stop(&t))
	fmt.Println(w.Advance(start.Add(time.Hour)))
	// Output:
	// true false
	// 0
}

func ExampleWheel_Now() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	clk.Sleep(5 * time.Second)
	fmt.Println(w.Now().Sub(start)) // lags the clock until the next Advance
	w.AdvanceClock()
	fmt.Println(w.Now().Sub(start))
	// Output:
	// 0s
	// 5s
}

func ExampleWheel_Len() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	timers := make([]timingwheel.Timer, 5)
	for i := range timers {
		timers[i].Init(func() {})
		w.Add(&timers[i], time.Duration(i+1)*time.Second)
	}
	w.Advance(start.Add(2 * time.Second))
	fmt.Println(w.Len())
	// Output: 3
}

// A callback re-arms its own timer: a periodic tick hook on the loop.
func ExampleTimer_Init() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var hook timingwheel.Timer
	n := 0
	hook.Init(func() {
		n++
		w.Add(&hook, time.Second) // from the Clock: missed periods are dropped
	})
	w.Add(&hook, time.Second)
	for range 5 {
		clk.Sleep(time.Second)
		w.AdvanceClock()
	}
	fmt.Println(n, "ticks,", hook.Active())
	// Output: 5 ticks, true
}

func ExampleTimer_Active() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() { fmt.Println("active in its callback:", t.Active()) })
	fmt.Println(t.Active())
	w.Add(&t, time.Second)
	fmt.Println(t.Active())
	w.Advance(start.Add(time.Second))
	fmt.Println(t.Active())
	// Output:
	// false
	// true
	// active in its callback: false
	// false
}

func ExampleTimer_When() {
	clk := &manualClock{now: start}
	w := timingwheel.New(timingwheel.Config{Tick: 10 * time.Millisecond, Clock: clk.Now})
	var t timingwheel.Timer
	t.Init(func() {})
	fmt.Println(t.When().IsZero())
	w.Add(&t, 1001*time.Millisecond) // rounded up to the 10ms grid
	fmt.Println(t.When().Sub(start))
	// Output:
	// true
	// 1.01s
}
