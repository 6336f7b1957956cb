package iplimit

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// LimiterConfig configures a Limiter. Zero fields take the defaults in
// their comments.
type LimiterConfig struct {
	// Rate is the sustained rate a key may reach, in events per second;
	// it must be positive (0.5 is one event every two seconds).
	Rate float64
	// Burst is how many events a key may make at once, and so the bucket's
	// size; default 1.
	Burst int
	// MaxKeys bounds the keys tracked at once (about 24 bytes each plus
	// the key); default 65536. Over it, a new key shares one overflow
	// bucket with every other new key (see the package doc).
	MaxKeys int
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
}

// Limiter is a token bucket per key: Burst events at once, Rate per second
// sustained. Safe for concurrent use; create it with NewLimiter.
type Limiter[K comparable] struct {
	interval int64 // nanoseconds per event (1/Rate)
	tau      int64 // the bucket's depth in time: Burst*interval
	period   int64 // how often a shard sweeps expired entries
	perShard int   // MaxKeys spread over the shards
	clock    func() time.Time
	base     time.Time // times are nanoseconds since base
	seed     maphash.Seed
	shards   [shards]shard[K, int64] // per key, the theoretical arrival time (GCRA): the bucket is full again at that time

	overMu  sync.Mutex // guards overTAT
	overTAT int64      // the overflow bucket shared by keys over MaxKeys
}

// NewLimiter validates cfg and returns a limiter.
func NewLimiter[K comparable](cfg LimiterConfig) (*Limiter[K], error) {
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) || cfg.Rate > 1e9 {
		return nil, fmt.Errorf("%w: LimiterConfig.Rate must be in (0, 1e9] events/s, got %v", ErrConfig, cfg.Rate)
	}
	if cfg.Burst < 0 || cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("%w: LimiterConfig.Burst and MaxKeys must be >= 0, got %d and %d", ErrConfig, cfg.Burst, cfg.MaxKeys)
	}
	if cfg.Burst == 0 {
		cfg.Burst = 1
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 65536
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	interval := int64(1e9 / cfg.Rate)
	if float64(cfg.Burst)*float64(interval) > math.MaxInt64/4 {
		return nil, fmt.Errorf("%w: LimiterConfig.Burst/Rate is too long a time", ErrConfig)
	}
	l := &Limiter[K]{
		interval: interval,
		tau:      int64(cfg.Burst) * interval,
		perShard: max(1, (cfg.MaxKeys+shards-1)/shards),
		clock:    cfg.Clock,
		base:     cfg.Clock(),
		seed:     maphash.MakeSeed(),
	}
	// An entry expires at most tau after its last use: sweeping every tau
	// keeps at most about two periods of keys; bounded to [1s, 1min] so
	// that tiny buckets do not sweep constantly nor huge ones never.
	l.period = min(max(l.tau, int64(time.Second)), int64(time.Minute))
	for i := range l.shards {
		l.shards[i].m = make(map[K]int64)
		l.shards[i].nextSweep = l.period
	}
	return l, nil
}

func (l *Limiter[K]) now() int64 { return int64(l.clock().Sub(l.base)) }

// Allow reports whether k may do one event now, and counts it if so.
func (l *Limiter[K]) Allow(k K) bool {
	ok, _ := l.AllowN(k, 1)
	return ok
}

// AllowN reports whether k may do n events now, and counts them if so;
// otherwise it counts nothing and retryAfter says how long until it may
// (for a Retry-After header). n larger than Burst never succeeds.
func (l *Limiter[K]) AllowN(k K, n int) (ok bool, retryAfter time.Duration) {
	if n <= 0 {
		return true, 0
	}
	now := l.now()
	s := &l.shards[maphash.Comparable(l.seed, k)>>59]
	s.mu.Lock()
	if now >= s.nextSweep {
		sweepLocked(s, now, l.period)
	}
	tat, found := s.m[k]
	if !found && len(s.m) >= l.perShard {
		// Full: expired entries may make room, but a shard full of live
		// keys must not be rescanned for every new key.
		if now-s.lastSweep >= l.period/8 {
			sweepLocked(s, now, l.period)
		}
		if len(s.m) >= l.perShard {
			s.mu.Unlock()
			l.overMu.Lock()
			defer l.overMu.Unlock()
			ok, l.overTAT, retryAfter = l.take(l.overTAT, now, n)
			return ok, retryAfter
		}
	}
	ok, tat, retryAfter = l.take(tat, now, n)
	if ok {
		s.m[k] = tat
	}
	s.mu.Unlock()
	return ok, retryAfter
}

// Refund gives back one event that Allow counted for k, as if it had not
// happened (the bucket never goes above full). A caller that must take a
// token before it knows whether the event counts (a login attempt,
// counted only if it fails) takes it first and refunds it on success, so
// that a burst of parallel attempts cannot all pass before the first
// failure is counted.
func (l *Limiter[K]) Refund(k K) {
	s := &l.shards[maphash.Comparable(l.seed, k)>>59]
	s.mu.Lock()
	if tat, ok := s.m[k]; ok {
		s.m[k] = tat - l.interval // at or below now: full, and swept in time
	}
	s.mu.Unlock()
	// Not tracked: its bucket refilled meanwhile, or the event went to the
	// overflow bucket, which is shared, so its refund is not given (erring
	// strict).
}

// take is one GCRA step: the bucket with theoretical arrival time tat
// takes n events at now, or refuses and says when it could.
func (l *Limiter[K]) take(tat, now int64, n int) (ok bool, newTAT int64, retryAfter time.Duration) {
	tat = max(tat, now)
	next := tat + int64(n)*l.interval
	if over := next - now - l.tau; over > 0 {
		return false, tat, time.Duration(over)
	}
	return true, next, 0
}

// sweepLocked drops the entries whose bucket is full again (they answer
// exactly as a key never seen). s.mu must be held.
func sweepLocked[K comparable](s *shard[K, int64], now, period int64) {
	for k, tat := range s.m {
		if tat <= now {
			delete(s.m, k)
		}
	}
	s.lastSweep = now
	s.nextSweep = now + period
}

// Len is the number of keys tracked (an upper bound on keys whose bucket
// is not full).
func (l *Limiter[K]) Len() int { return size(&l.shards) }
