package iplimit

import (
	"fmt"
	"sync"
)

// shards is the number of independently locked parts of a Conns or
// Limiter: enough that cores rarely meet on one mutex.
const shards = 32

// Conns counts open connections per source and refuses a source that
// already holds Max. Safe for concurrent use; the zero value is not
// usable (NewConns).
type Conns struct {
	max    int32
	shards [shards]shard[Key, int32] // open connections per key; keys at zero are deleted
}

// shard is one independently locked part of a map.
type shard[K comparable, V any] struct {
	mu        sync.Mutex // guards the fields below
	m         map[K]V
	nextSweep int64    // Limiter: when the next periodic sweep is due
	lastSweep int64    // Limiter: when the last sweep ran
	_         [24]byte // keep shards on separate cache lines
}

// size is the number of entries over all shards.
func size[K comparable, V any](ss *[shards]shard[K, V]) int {
	n := 0
	for i := range ss {
		s := &ss[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// NewConns returns a counter allowing max connections per source; max
// must be at least 1.
func NewConns(max int) (*Conns, error) {
	if max < 1 || max > 1<<30 {
		return nil, fmt.Errorf("%w: Conns max must be in [1, 2^30], got %d", ErrConfig, max)
	}
	c := &Conns{max: int32(max)}
	for i := range c.shards {
		c.shards[i].m = make(map[Key]int32)
	}
	return c, nil
}

// Max is the limit per source.
func (c *Conns) Max() int { return int(c.max) }

func (c *Conns) shardOf(k Key) *shard[Key, int32] { return &c.shards[k.hash()>>59] } // top 5 bits: 32 shards

// Acquire takes a connection slot for k and reports whether there was
// one. An invalid k (no source) is always admitted and must still be
// released.
func (c *Conns) Acquire(k Key) bool {
	if !k.ok {
		return true
	}
	s := c.shardOf(k)
	s.mu.Lock()
	n := s.m[k]
	ok := n < c.max
	if ok {
		s.m[k] = n + 1
	}
	s.mu.Unlock()
	return ok
}

// Release gives back a slot taken by a successful Acquire. Releasing a
// key with no slot taken panics: the counts would drift.
func (c *Conns) Release(k Key) {
	if !k.ok {
		return
	}
	s := c.shardOf(k)
	s.mu.Lock()
	n := s.m[k] - 1
	switch {
	case n > 0:
		s.m[k] = n
	case n == 0:
		delete(s.m, k)
	default:
		s.mu.Unlock()
		panic("iplimit: Conns.Release of " + k.String() + " without Acquire")
	}
	s.mu.Unlock()
}

// Count is the open connections of k.
func (c *Conns) Count(k Key) int {
	s := c.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.m[k])
}

// Sources is the number of sources with at least one open connection.
func (c *Conns) Sources() int { return size(&c.shards) }
