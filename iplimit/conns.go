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
	shards [shards]connShard
}

type connShard struct {
	mu sync.Mutex    // guards m
	m  map[Key]int32 // open connections per key; keys at zero are deleted
	_  [40]byte      // keep shards on separate cache lines
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

func (c *Conns) shard(k Key) *connShard { return &c.shards[k.hash()>>59] } // top 5 bits: 32 shards

// Acquire takes a connection slot for k and reports whether there was
// one. An invalid k (no source) is always admitted and must still be
// released.
func (c *Conns) Acquire(k Key) bool {
	if !k.ok {
		return true
	}
	s := c.shard(k)
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
	s := c.shard(k)
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
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.m[k])
}

// Sources is the number of sources with at least one open connection.
func (c *Conns) Sources() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
