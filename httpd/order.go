package httpd

import "sync"

// responseOrder keeps a connection's responses in request order while its
// pipelined requests are served concurrently. A response writes through to
// the connection only on its turn; before that its bytes are held (and its
// handler waits once it holds responseHighWater bytes). When the response
// whose turn it is ends, the turn passes on and the next response's held
// bytes are released, cascading through responses that already ended.
// Shared by the handler goroutines of one connection: mu guards it.
type responseOrder struct {
	mu     sync.Mutex
	cond   sync.Cond // signalled when the turn moves or the connection fails
	turn   uint64    // sequence number of the response that may write
	slots  [maxPipeline]*response
	failed bool
}

// register makes w known to the order (before its handler runs).
func (o *responseOrder) register(w *response) {
	o.mu.Lock()
	o.slots[w.j.seq%maxPipeline] = w
	o.mu.Unlock()
}

// fail wakes every waiter: the connection is gone.
func (o *responseOrder) fail() {
	o.mu.Lock()
	o.failed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// emit sends out in order: at once on w's turn, otherwise held (and
// dropped if the connection fails or closes before the turn comes). It
// reports whether out was sent (and must be flow-controlled by the caller).
func (o *responseOrder) emit(w *response, out *outBuf) (sent bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed {
		// The connection is gone or closes before w's turn: what w
		// writes is dropped, and its writes report it.
		out.release()
		w.sent(0, ErrConnClosed)
		return false
	}
	if o.turn == w.j.seq {
		return true
	}
	w.held = append(w.held, out)
	w.heldBytes += len(out.b)
	for o.turn != w.j.seq && w.heldBytes > responseHighWater && !o.failed {
		o.cond.Wait() // a big response out of turn waits rather than pile up
	}
	// Held: if the turn arrived meanwhile, the previous response released
	// it (out included).
	return false
}

// ended is called when w's handler has returned and its last bytes were
// emitted (w.closeAfter is final by then). If it was w's turn, the turn passes on, releasing the next
// responses.
func (o *responseOrder) ended(w *response) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w.ended = true
	if o.turn != w.j.seq {
		return // the previous response will pass the turn on
	}
	o.advanceLocked()
}

// advanceLocked passes the turn on from the response whose turn it is
// (which has ended): it writes the next responses' held bytes, and keeps
// going through responses that have ended too. o.mu must be held.
func (o *responseOrder) advanceLocked() {
	for {
		done := o.slots[o.turn%maxPipeline]
		o.slots[o.turn%maxPipeline] = nil
		last := false
		if done != nil && done.j.seq == o.turn {
			// A response that closes the connection is its last: the
			// responses after it are dropped, never written.
			last = done.closeAfter
			done.unref() // the slot's reference (see response.refs)
		}
		if last {
			o.failed = true // the turn never passes: later emits are dropped
			o.cond.Broadcast()
			return
		}
		o.turn++
		o.cond.Broadcast()
		next := o.slots[o.turn%maxPipeline]
		if next == nil || next.j.seq != o.turn {
			return // not dispatched yet: it will find its turn
		}
		held := next.held
		next.held, next.heldBytes = nil, 0
		for _, out := range held {
			next.write(out, false) // bounded already; no waiting under mu
		}
		if !next.ended {
			return
		}
	}
}

// waitTurn blocks until it is w's turn (every earlier response ended);
// false if the connection failed first.
func (o *responseOrder) waitTurn(w *response) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.turn != w.j.seq && !o.failed {
		o.cond.Wait()
	}
	return !o.failed
}
