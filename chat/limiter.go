package chat

import (
	"sync"
	"time"
)

// limiter is a set of token buckets by key (an IP, a username): each holds
// burst tokens and refills burst per period. Keys whose bucket is full again
// are forgotten, so memory is bounded by the keys failing right now.
type limiter struct {
	burst  float64
	rate   float64 // tokens per second
	clock  func() time.Time
	mu     sync.Mutex // guards keys
	keys   map[string]*bucket
	sweeps int
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, period time.Duration, clock func() time.Time) *limiter {
	return &limiter{burst: float64(burst), rate: float64(burst) / period.Seconds(), clock: clock, keys: map[string]*bucket{}}
}

// refillLocked brings b up to date; l.mu must be held.
func (l *limiter) refillLocked(b *bucket, now time.Time) {
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
}

// allowed reports whether key has a token left, without taking it.
func (l *limiter) allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys[key]
	if !ok {
		return true
	}
	l.refillLocked(b, l.clock())
	return b.tokens >= 1
}

// take spends one token of key.
func (l *limiter) take(key string) {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.keys[key] = b
	}
	l.refillLocked(b, now)
	b.tokens--
	l.sweeps++
	if l.sweeps >= 1024 { // forget full buckets now and then
		l.sweeps = 0
		for k, x := range l.keys {
			l.refillLocked(x, now)
			if x.tokens >= l.burst {
				delete(l.keys, k)
			}
		}
	}
}
