package engine

import (
	"testing"
	"time"
	"wharf/internal/testkit"
)

// kick makes the engine look at its injected clock now: the reactor's loops
// run an iteration, and the goroutine-served connections check their timers.
func kick(e *Engine) {
	kickLoops(e)
	e.streams.checkTimers()
}

func TestIdleTimeoutInjectedClock(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
		h := newTH()
		opened := make(chan struct{})
		h.open = func(Conn) { close(opened) }
		e, addr := start(t, Config{Kind: k, Loops: 1, IdleTimeout: time.Minute, Clock: clock.Now}, h)
		c := dial(t, addr)
		<-opened // the idle clock starts before OnOpen

		clock.Add(59 * time.Second)
		kick(e)
		select {
		case ev := <-h.closed:
			t.Fatalf("closed after 59s of a 60s idle timeout: %v", ev.err)
		default:
		}

		// Traffic at 59s resets the idle clock: 60s after the start is not enough.
		c.Write([]byte("x"))
		readFull(t, c, 1)
		clock.Add(2 * time.Second) // 61s after start, 2s after the last read
		kick(e)
		select {
		case ev := <-h.closed:
			t.Fatalf("closed 2s after traffic: %v", ev.err)
		default:
		}

		clock.Add(58 * time.Second) // 60s after the last read
		kick(e)
		ev := h.waitClose(t)
		if ev.err != ErrIdleTimeout {
			t.Fatalf("OnClose err = %v, want ErrIdleTimeout", ev.err)
		}
	})
}

func TestDeadlineInjectedClock(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
		h := newTH()
		opened := make(chan struct{})
		h.open = func(c Conn) {
			c.SetDeadline(clock.Now().Add(10 * time.Second))
			close(opened)
		}
		e, addr := start(t, Config{Kind: k, Loops: 1, Clock: clock.Now}, h)
		dial(t, addr)
		<-opened
		clock.Add(9 * time.Second)
		kick(e)
		if len(h.closed) != 0 {
			t.Fatal("closed before the deadline")
		}
		clock.Add(time.Second)
		kick(e)
		if ev := h.waitClose(t); ev.err != ErrDeadlineExceeded {
			t.Fatalf("OnClose err = %v, want ErrDeadlineExceeded", ev.err)
		}
	})
}
