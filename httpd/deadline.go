package httpd

import (
	"os"
	"time"
)

// Deadlines of adapter responses, set through http.ResponseController.
//
// By default a response must be complete WriteTimeout after its request
// was read, or the connection is cut (the engine's deadline). A handler
// that calls SetWriteDeadline takes its response out of WriteTimeout and
// gets net.Conn semantics instead, as with net/http: when the deadline
// passes while bytes of the response are still unsent (the client does
// not read), the connection is closed; when it passes with nothing
// unsent, nothing happens until the next write, which fails with
// os.ErrDeadlineExceeded (and the response is aborted). The zero time
// removes the deadline. An event stream that sets a deadline before each
// write therefore lives as long as it writes and its client reads.
//
// The deadline is enforced by one timer per response at a time, re-armed
// lazily when it fires early (the deadline moved), so a handler may move
// it on every write without piling up timers.

// SetWriteDeadline sets the deadline for writing the response (see
// above). Safe to call from the handler goroutine only, like every
// ResponseWriter method.
func (w *response) SetWriteDeadline(t time.Time) error {
	if w.hijacked {
		return ErrHijacked
	}
	w.mu.Lock()
	w.wdl = t
	arm := !t.IsZero() && !w.timerArmed
	if arm {
		w.timerArmed = true
		w.refs.Add(1) // the timer's
	}
	w.mu.Unlock()
	if !w.ownWDL {
		// From now on the connection applies no WriteTimeout to w.
		w.ownWDL = true
		w.j.ownWriteDL.Store(true)
		c, j := w.c, w.j
		c.ec.Run(func(engineConn) {
			if len(c.jobs) > 0 && c.jobs[0] == j {
				c.writeDL = time.Time{}
				c.armDeadline()
			}
		})
	}
	if arm {
		w.timerFn = w.onWriteTimer
		if err := w.c.ec.AfterFunc(max(t.Sub(w.s.now()), 0), w.timerFn); err != nil {
			w.mu.Lock()
			w.timerArmed = false
			w.mu.Unlock()
			w.unref()
			return ErrConnClosed
		}
	}
	return nil
}

// onWriteTimer runs on the loop when the write deadline may have passed.
func (w *response) onWriteTimer(engineConn) {
	w.mu.Lock()
	dl, now := w.wdl, w.s.now()
	if !dl.IsZero() && now.Before(dl) { // moved later: wait again
		w.mu.Unlock()
		if w.c.ec.AfterFunc(dl.Sub(now), w.timerFn) != nil {
			w.timerDone()
		}
		return
	}
	unsent := !dl.IsZero() && w.pending > 0 && w.werr == nil
	w.mu.Unlock()
	if unsent {
		// The client is not reading: the response cannot finish in time.
		w.s.ctr.timeouts.Add(1)
		w.c.ec.Close()
	}
	w.timerDone()
}

// timerDone drops the timer's hold on w.
func (w *response) timerDone() {
	w.mu.Lock()
	w.timerArmed = false
	w.mu.Unlock()
	w.unref()
}

// writeExpired reports whether the handler's own write deadline has
// passed; it then aborts the response, as a net.Conn write past its
// deadline leaves the stream unusable.
func (w *response) writeExpired() error {
	if !w.ownWDL {
		return nil
	}
	w.mu.Lock()
	dl := w.wdl
	w.mu.Unlock()
	if dl.IsZero() || w.s.now().Before(dl) {
		return nil
	}
	if !w.aborted {
		w.abort()
	}
	return os.ErrDeadlineExceeded
}

// SetReadDeadline sets the deadline for reading the request body: a Read
// waiting past it fails with os.ErrDeadlineExceeded, and the rest of the
// body is then discarded or the connection closed, as for any body the
// handler does not read. Once set, ReadTimeout no longer applies to the
// body; the zero time removes the deadline. Without a body it does
// nothing.
func (w *response) SetReadDeadline(t time.Time) error {
	if w.hijacked {
		return ErrHijacked
	}
	p := w.j.body
	if p == nil {
		return nil
	}
	p.setReadDeadline(t)
	c := w.c
	c.ec.Run(func(engineConn) {
		if c.pipe == p {
			c.readDL = time.Time{}
			c.armDeadline()
		}
	})
	return nil
}
