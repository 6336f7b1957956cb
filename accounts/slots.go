package accounts

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// hashPriority orders the waiters for a hash slot.
type hashPriority uint8

const (
	priLogin    hashPriority = iota // served first: users already have an account
	priRegister                     // served when no login waits
)

// hashSlots is a counting semaphore for bcrypt computations in which a
// waiting login always gets the next free slot before a waiting
// registration, and every wait has a deadline: a storm of registrations
// then delays a login by at most the bcrypt computations already running,
// and queues no longer than the deadline (ErrBusy).
type hashSlots struct {
	mu      sync.Mutex // guards the fields below
	free    int
	waiting [2][]chan struct{} // by priority, oldest first; a slot is handed over by closing the channel
}

func newHashSlots(n int) *hashSlots { return &hashSlots{free: n} }

// acquire takes a slot, waiting at most wait (and until ctx is done).
func (h *hashSlots) acquire(ctx context.Context, pri hashPriority, wait time.Duration) error {
	h.mu.Lock()
	if h.free > 0 && len(h.waiting[priLogin]) == 0 && (pri == priLogin || len(h.waiting[priRegister]) == 0) {
		h.free--
		h.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	h.waiting[pri] = append(h.waiting[pri], ch)
	h.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	var err error
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		err = fmt.Errorf("accounts: waiting to hash: %w", ctx.Err())
	case <-timer.C:
		err = ErrBusy
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-ch: // handed a slot just as we gave up: give it on
		h.releaseLocked()
		return err
	default:
	}
	q := h.waiting[pri]
	for i, w := range q {
		if w == ch {
			h.waiting[pri] = append(q[:i], q[i+1:]...)
			break
		}
	}
	return err
}

// release gives a slot back: to the oldest waiting login, else to the
// oldest waiting registration, else to the pool.
func (h *hashSlots) release() {
	h.mu.Lock()
	h.releaseLocked()
	h.mu.Unlock()
}

// releaseLocked is release; h.mu must be held.
func (h *hashSlots) releaseLocked() {
	for pri := range h.waiting {
		if q := h.waiting[pri]; len(q) > 0 {
			close(q[0])
			q[0] = nil
			h.waiting[pri] = q[1:]
			return
		}
	}
	h.free++
}

// busy reports the slots in use and the waiters, for stats.
func (h *hashSlots) load() (waitingLogins, waitingRegistrations int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiting[priLogin]), len(h.waiting[priRegister])
}
