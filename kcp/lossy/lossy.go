package lossy

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the impairment of a Conn. The zero value impairs nothing.
type Config struct {
	// Loss is the probability that a datagram is dropped.
	Loss float64
	// Duplicate is the probability that a datagram that is not dropped is
	// sent twice.
	Duplicate float64
	// Reorder is the probability that a datagram is held back for
	// ReorderDelay, so that datagrams sent after it arrive first.
	Reorder float64
	// ReorderDelay is the hold-back of a reordered datagram; default 5ms.
	ReorderDelay time.Duration
	// Latency delays every datagram (one way); default 0.
	Latency time.Duration
	// Seed seeds the pseudo-random choices.
	Seed uint64
}

// Validate reports a probability outside [0, 1] or a negative duration.
func (c Config) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", c.Loss}, {"Duplicate", c.Duplicate}, {"Reorder", c.Reorder}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("%w: %s must be in [0, 1], got %v", ErrBadConfig, p.name, p.v)
		}
	}
	if c.ReorderDelay < 0 || c.Latency < 0 {
		return fmt.Errorf("%w: durations must be >= 0", ErrBadConfig)
	}
	return nil
}

// Stats counts what a Conn did to the datagrams given to WriteTo.
type Stats struct {
	Written    uint64 // datagrams given to WriteTo
	Dropped    uint64
	Duplicated uint64
	Reordered  uint64
}

// Conn is a net.PacketConn whose WriteTo impairs datagrams as its Config
// says. ReadFrom and the other methods are those of the wrapped PacketConn.
type Conn struct {
	net.PacketConn
	cfg Config

	written, dropped, duplicated, reordered atomic.Uint64

	mu      sync.Mutex // guards the fields below
	rng     *rand.Rand
	queue   delayQueue
	closed  bool
	wake    chan struct{} // capacity 1: the queue's head changed
	stopped chan struct{} // closed when the sender goroutine has returned
}

// Wrap returns pc impaired by cfg. It panics if cfg is invalid (see
// Config.Validate): a test's configuration error.
func Wrap(pc net.PacketConn, cfg Config) *Conn {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.ReorderDelay == 0 {
		cfg.ReorderDelay = 5 * time.Millisecond
	}
	c := &Conn{
		PacketConn: pc,
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		wake:       make(chan struct{}, 1),
		stopped:    make(chan struct{}),
	}
	go c.sender()
	return c
}

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		Written:    c.written.Load(),
		Dropped:    c.dropped.Load(),
		Duplicated: c.duplicated.Load(),
		Reordered:  c.reordered.Load(),
	}
}

// WriteTo sends p to addr, or drops, duplicates or delays it. It reports
// len(p) and no error for a dropped or delayed datagram, as a network
// would; p may be reused on return.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.written.Add(1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	drop := c.rng.Float64() < c.cfg.Loss
	dup := !drop && c.rng.Float64() < c.cfg.Duplicate
	reorder := !drop && c.rng.Float64() < c.cfg.Reorder
	delay := c.cfg.Latency
	if reorder {
		delay += c.cfg.ReorderDelay
	}
	if drop {
		c.mu.Unlock()
		c.dropped.Add(1)
		return len(p), nil
	}
	if dup {
		c.duplicated.Add(1)
	}
	if reorder {
		c.reordered.Add(1)
	}
	if delay == 0 {
		c.mu.Unlock()
		n, err := c.PacketConn.WriteTo(p, addr)
		if err == nil && dup {
			c.PacketConn.WriteTo(p, addr)
		}
		return n, err
	}
	due := time.Now().Add(delay)
	copies := 1
	if dup {
		copies = 2
	}
	for range copies {
		heap.Push(&c.queue, delayed{due: due, seq: c.queue.seq, p: append([]byte(nil), p...), addr: addr})
		c.queue.seq++
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// sender writes delayed datagrams when they are due.
func (c *Conn) sender() {
	defer close(c.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		var due []delayed
		now := time.Now()
		for c.queue.Len() > 0 && !c.queue.items[0].due.After(now) {
			due = append(due, heap.Pop(&c.queue).(delayed))
		}
		wait := time.Hour
		if c.queue.Len() > 0 {
			wait = c.queue.items[0].due.Sub(now)
		}
		c.mu.Unlock()
		for _, d := range due {
			c.PacketConn.WriteTo(d.p, d.addr)
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-c.wake:
		}
	}
}

// Close stops the sender, drops delayed datagrams and closes the wrapped
// PacketConn.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.queue.items = nil
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.stopped
	return c.PacketConn.Close()
}

// delayed is a datagram waiting in the delay queue.
type delayed struct {
	due  time.Time
	seq  uint64 // FIFO among equal due times
	p    []byte
	addr net.Addr
}

// delayQueue is a min-heap of delayed datagrams by due time.
type delayQueue struct {
	items []delayed
	seq   uint64
}

func (q *delayQueue) Len() int { return len(q.items) }
func (q *delayQueue) Less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.due.Equal(b.due) {
		return a.seq < b.seq
	}
	return a.due.Before(b.due)
}
func (q *delayQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *delayQueue) Push(x any)    { q.items = append(q.items, x.(delayed)) }
func (q *delayQueue) Pop() any {
	n := len(q.items)
	x := q.items[n-1]
	q.items[n-1] = delayed{}
	q.items = q.items[:n-1]
	return x
}
