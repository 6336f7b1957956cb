package httpd

import (
	"sync"
	"sync/atomic"
	"time"
)

// pool runs the net/http adapter's handlers: a bounded queue of jobs and up
// to max handler goroutines, started as load needs them and stopped after
// workerIdle without work.
//
// Workers never block on the queue itself. A Go channel hands a sent value
// straight to a goroutine blocked receiving from it, so workers parked on
// the queue meant that every request woke a goroutine of its own: with
// 1000 connections one request at a time, a park and a wake-up (a select
// over the queue, an idle timer and the quit channel) per request, about
// 900 instructions, and a third of what the adapter's cost grew by from 50
// connections to 1000 (bench/RESULTS.md). Instead, a parked worker waits
// on its own channel, and one is woken only when no worker is searching:
// about to look at the queue before it parks. A worker that takes a job
// while more are queued wakes the next one first, so that a handler that
// blocks never holds up the requests behind it, and with several
// processors the queue is drained in parallel. A burst of requests thus
// costs one or two wake-ups rather than one each; the workers that run
// drain the queue between them.
type pool struct {
	jobs      chan *job // requests waiting for a handler; taken without blocking
	max       int32     // Config.Handlers
	now       func() time.Time
	searching atomic.Int32 // workers that will look at jobs before they park
	running   atomic.Int32 // workers alive
	wg        sync.WaitGroup

	mu     sync.Mutex    // guards the fields below
	idle   []*poolWorker // parked workers, in the order they parked
	closed bool          // close was called: workers exit instead of parking
}

// poolWorker is a parked worker's wake-up line.
type poolWorker struct {
	wake  chan bool // true: look for work; false: exit
	since time.Time // when it parked; owned by the pool's mu
}

func newPool(max, queue int, now func() time.Time) *pool {
	return &pool{jobs: make(chan *job, queue), max: int32(max), now: now}
}

// submit queues j, waking or starting a worker if none is searching. It
// reports false when the queue is full.
func (p *pool) submit(j *job) bool {
	select {
	case p.jobs <- j:
	default:
		return false
	}
	// The job is queued before searching is read, and a worker stops
	// searching before it looks at the queue a last time (work): either
	// that look finds the job, or this read sees no searcher and wakes one.
	if p.searching.Load() == 0 {
		p.wake()
	}
	return true
}

// wake makes one more worker search: the one that parked last (its stack
// and caches are the warmest), or a new one if none is parked and fewer
// than max run.
func (p *pool) wake() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.searching.Add(1) // for w, before it runs
		p.mu.Unlock()
		w.wake <- true
		return
	}
	p.mu.Unlock()
	for {
		n := p.running.Load()
		if n >= p.max {
			return // every worker is busy: the first to finish takes the job
		}
		if p.running.CompareAndSwap(n, n+1) {
			p.searching.Add(1)
			p.wg.Add(1)
			go p.work()
			return
		}
	}
}

// work is a handler goroutine. It starts out searching (counted by wake).
func (p *pool) work() {
	defer p.wg.Done()
	defer p.running.Add(-1)
	w := &poolWorker{wake: make(chan bool, 1)}
	for {
		select {
		case j := <-p.jobs:
			if p.searching.Add(-1) == 0 && len(p.jobs) > 0 {
				p.wake() // someone must look at the rest while j runs
			}
			j.c.serveHTTP(j)
			p.searching.Add(1)
			continue
		default:
		}
		p.mu.Lock()
		p.searching.Add(-1)
		if p.closed {
			p.mu.Unlock()
			return
		}
		if len(p.jobs) > 0 { // queued since the receive above
			p.searching.Add(1)
			p.mu.Unlock()
			continue
		}
		w.since = p.now()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if !<-w.wake {
			return
		}
	}
}

// reap stops the workers parked for workerIdle or longer.
func (p *pool) reap(now time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].since) >= workerIdle {
		n++
	}
	old := make([]*poolWorker, n)
	copy(old, p.idle[:n])
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	p.mu.Unlock()
	for _, w := range old {
		w.wake <- false
	}
}

// close stops every worker once its handler returns and waits for them.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		w.wake <- false
	}
	p.wg.Wait()
}
