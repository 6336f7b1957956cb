package timingwheel

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestEventLoopInBubble runs a wheel on the default Clock (time.Now) inside
// a synctest bubble, driven the way wharf's event loop drives it: one
// goroutine owns the wheel, sleeps until NextExpiry or until another
// goroutine hands it a task, then calls AdvanceClock. Fake time makes the
// deadlines exact, so the test can require every callback to run no earlier
// than its deadline and at most one tick after it.
func TestEventLoopInBubble(t *testing.T) {
	const tick = 10 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := New(Config{Tick: tick}) // Clock: time.Now, the bubble's fake clock

		tasks := make(chan func())
		loopDone := make(chan struct{})
		go func() { // the event loop: the only goroutine that touches w
			defer close(loopDone)
			sleep := time.NewTimer(time.Hour)
			defer sleep.Stop()
			for {
				sleep.Stop()
				var wake <-chan time.Time
				if at, ok := w.NextExpiry(); ok {
					sleep.Reset(time.Until(at))
					wake = sleep.C
				}
				select {
				case f, ok := <-tasks:
					if !ok {
						return
					}
					f()
				case <-wake:
				}
				w.AdvanceClock()
			}
		}()
		onLoop := func(f func()) { tasks <- f }

		// checkOnTime is called from callbacks (on the loop goroutine).
		checkOnTime := func(what string, deadline time.Time) {
			if late := time.Since(deadline); late < 0 || late > tick {
				t.Errorf("%s fired %v after its deadline, want within [0, %v]", what, late, tick)
			}
		}

		type conn struct {
			name     string
			idle     Timer
			deadline time.Time
			closedAt time.Duration // 0 while open
		}
		const idleTimeout = 60 * time.Second
		conns := []*conn{{name: "active"}, {name: "silent"}, {name: "closed by peer"}}
		for _, c := range conns {
			c.idle.Init(func() {
				checkOnTime(c.name+" idle timeout", c.deadline)
				c.closedAt = time.Since(start)
			})
		}
		ticks := 0
		var hook, after Timer
		var hookDue time.Time
		hook.Init(func() {
			checkOnTime("tick hook", hookDue)
			ticks++
			hookDue = time.Now().Add(time.Second)
			w.Add(&hook, time.Second)
		})
		afterRan := time.Duration(0)
		after.Init(func() { afterRan = time.Since(start) })

		onLoop(func() {
			for _, c := range conns {
				c.deadline = time.Now().Add(idleTimeout)
				w.Add(&c.idle, idleTimeout)
			}
			hookDue = time.Now().Add(time.Second)
			w.Add(&hook, time.Second)
			w.Add(&after, 250*time.Millisecond)
		})
		time.Sleep(10 * time.Second)
		onLoop(func() { w.Stop(&conns[2].idle) })
		time.Sleep(20 * time.Second)
		onLoop(func() { // a packet arrives on "active" at 30s
			conns[0].deadline = time.Now().Add(idleTimeout)
			if !w.Reset(&conns[0].idle, idleTimeout) {
				t.Error("Reset of an armed idle timer reported inactive")
			}
		})
		time.Sleep(70*time.Second + 5*time.Millisecond) // to 100.005s
		var length int
		onLoop(func() { length = w.Len() })
		close(tasks)
		<-loopDone

		want := map[string]time.Duration{"active": 90 * time.Second, "silent": 60 * time.Second, "closed by peer": 0}
		for _, c := range conns {
			if c.closedAt != want[c.name] {
				t.Errorf("%s closed at %v, want %v", c.name, c.closedAt, want[c.name])
			}
		}
		if ticks != 100 {
			t.Errorf("tick hook ran %d times in 100s, want 100", ticks)
		}
		if afterRan != 250*time.Millisecond {
			t.Errorf("the 250ms task ran at %v", afterRan)
		}
		if length != 1 { // only the tick hook is still armed
			t.Errorf("Len() = %d at the end, want 1", length)
		}
	})
}
