package loadgen

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Bench is one load subcommand's run (echo, packet, http, kcp), driven by
// wharf-bench's runBench: Flags, then Setup, Start, the measured window
// (Count, Describe and Done polled from the driver's goroutine), Halt,
// Finish.
type Bench interface {
	// Flags registers the subcommand's flags on fs, the shared ones
	// (Options.Flags) included.
	Flags(fs *flag.FlagSet)
	// Setup validates those flags; it runs after Options.Check.
	Setup() error
	// Start opens the connections and returns when they are set up
	// (dialed, and logged in where that applies), or ctx ends. An error
	// means the run could not start at all.
	Start(ctx context.Context) error
	// Count returns the exchanges completed so far. Any goroutine.
	Count() int64
	// Done is closed when the run need not or cannot go on: -n reached,
	// or no connection left.
	Done() <-chan struct{}
	// Describe is the text of the live line. Any goroutine.
	Describe() string
	// Halt stops issuing new requests.
	Halt()
	// Finish waits (boundedly) for requests in flight, closes everything
	// and fills res: Conns, Requests, Latency, Errors.ByKind and the
	// subcommand's own parts. It must leave no goroutine behind.
	Finish(res *Result)
}

// Meter is what every Bench counts: connections opened, failed, dropped
// and open; exchanges and their latency (one Recorder shard per event loop
// or per connection); errors by kind; the -n budget; -rate pacing; and the
// end of the run. A Bench embeds one and implements Count, Done, Describe
// and Halt with it.
//
// The exported counters are atomics any goroutine may update; the rest is
// set by Init, before the connections start, and read-only afterwards.
type Meter struct {
	Opts *Options
	Errs Counts // errors by "phase:kind"

	Failed     atomic.Int64 // failed dials
	Dials      atomic.Int64 // dials that returned success
	Reconnects atomic.Int64 // connections dialed again after one ended (benches that redial)

	base     time.Time // monotonic origin of Now
	interval int64     // pacing per connection, ns (0: none)
	rec      *Recorder

	stopping  atomic.Bool  // set by Halt: connections stop issuing
	budget    atomic.Int64 // with -n: requests that may still be issued
	completed atomic.Int64 // with -n: requests completed
	doneCh    chan struct{}
	doneOnce  sync.Once

	opened, dropped, open, peak atomic.Int64
	dialed                      atomic.Bool // the dial phase is over: no open connection left means the end (see DialPhaseOver)
}

// NewMeter returns a Meter for a run with options o.
func NewMeter(o *Options) *Meter { return &Meter{Opts: o, doneCh: make(chan struct{})} }

// Init readies the counters, with shards latency shards, at the start of
// the run (Bench.Start).
func (m *Meter) Init(shards int) {
	m.base = time.Now()
	m.interval = m.Opts.Interval()
	m.rec = NewRecorder(shards)
	m.budget.Store(m.Opts.N)
}

// Now is the time since Init in nanoseconds (monotonic).
func (m *Meter) Now() int64 { return int64(time.Since(m.base)) }

// Interval is the pacing per connection in nanoseconds (Options.Interval),
// valid after Init.
func (m *Meter) Interval() int64 { return m.interval }

// Stopping reports whether Halt was called.
func (m *Meter) Stopping() bool { return m.stopping.Load() }

// MayIssue reports whether a connection may send one more request, and
// takes it from the -n budget.
func (m *Meter) MayIssue() bool {
	if m.stopping.Load() {
		return false
	}
	return m.Opts.N == 0 || m.budget.Add(-1) >= 0
}

// Complete records one exchange sent at sent (a Now value) on shard.
func (m *Meter) Complete(shard int, sent, now int64) {
	m.rec.Record(shard, time.Duration(now-sent))
	if m.Opts.N > 0 && m.completed.Add(1) == m.Opts.N {
		m.FinishEarly()
	}
}

// FinishEarly ends the measured window (Done) before -d; idempotent.
func (m *Meter) FinishEarly() { m.doneOnce.Do(func() { close(m.doneCh) }) }

// Pace is a connection's -rate schedule, owned by whoever drives the
// connection (its event loop, or its goroutine).
type Pace struct {
	Next  int64 // earliest time (a Now value) of the next send
	Armed bool  // a resume timer is pending (engine-driven benches)
}

// StartPace spreads connection i's first send over one interval, so that
// paced connections do not all send at once.
func (m *Meter) StartPace(i int) Pace {
	if m.interval == 0 {
		return Pace{}
	}
	return Pace{Next: m.Now() + m.interval*int64(i%m.Opts.Conns)/int64(m.Opts.Conns)}
}

// Paced returns how long a connection on schedule p must wait at now before
// its next send under -rate: 0 means it may send now, and the send is
// taken from the schedule. Unpaced runs always get 0.
func (m *Meter) Paced(p *Pace, now int64) time.Duration {
	if wait := m.untilDue(p, now); wait > 0 || m.interval == 0 {
		return wait
	}
	// Keep the average rate when replies come late, but never owe more
	// than one send: a stalled connection must not burst to catch up.
	p.Next = max(p.Next+m.interval, now-m.interval)
	return 0
}

// untilDue is how long schedule p has to wait at now, without taking a
// send.
func (m *Meter) untilDue(p *Pace, now int64) time.Duration {
	if m.interval == 0 || now >= p.Next {
		return 0
	}
	return time.Duration(p.Next - now)
}

// Opened counts an open connection.
func (m *Meter) Opened() {
	m.opened.Add(1)
	n := m.open.Add(1)
	for p := m.peak.Load(); n > p && !m.peak.CompareAndSwap(p, n); p = m.peak.Load() {
	}
}

// OpenedTotal is the number of connections opened so far.
func (m *Meter) OpenedTotal() int64 { return m.opened.Load() }

// OpenNow is the number of connections open now.
func (m *Meter) OpenNow() int64 { return m.open.Load() }

// Closed counts a closed connection; reason is why, "" when the bench
// closed it on purpose. Closes while stopping are not drops. With the dial
// phase over (DialPhaseOver), the last close ends the run.
func (m *Meter) Closed(reason string) {
	stopping := m.stopping.Load()
	// Count the drop before FinishEarly: it wakes the run, which stops
	// and reports at once, and must find the last connection's drop.
	if reason != "" && !stopping {
		m.Drop(reason)
	}
	if m.open.Add(-1) == 0 && m.dialed.Load() && !stopping {
		m.FinishEarly()
	}
}

// Drop counts a connection lost for reason, as "drop:reason".
func (m *Meter) Drop(reason string) {
	m.dropped.Add(1)
	m.Errs.Add("drop:"+reason, 1)
}

// DialPhaseOver says every connection has been dialed once and will not
// be redialed: from now on, no open connection left ends the run (Done).
func (m *Meter) DialPhaseOver() {
	m.dialed.Store(true)
	if m.open.Load() == 0 {
		m.FinishEarly()
	}
}

// FillResult writes the shared parts of res: Conns, Requests, Latency and
// Errors.ByKind.
func (m *Meter) FillResult(res *Result) {
	res.Conns = Conns{
		Target:     int64(m.Opts.Conns),
		Opened:     m.opened.Load(),
		Failed:     m.Failed.Load(),
		Dropped:    m.dropped.Load(),
		Reconnects: m.Reconnects.Load(),
		Peak:       m.peak.Load(),
	}
	if m.rec != nil {
		h := m.rec.Snapshot()
		res.Requests = h.Count()
		res.Latency = h.Summary()
	}
	res.Errors.ByKind = m.Errs.Snapshot()
}

// Count implements Bench.Count.
func (m *Meter) Count() int64 {
	if m.rec == nil {
		return 0
	}
	return m.rec.Count()
}

// Done implements Bench.Done.
func (m *Meter) Done() <-chan struct{} { return m.doneCh }

// Halt implements Bench.Halt.
func (m *Meter) Halt() { m.stopping.Store(true) }

// Describe implements Bench.Describe: connections, requests, p99, errors.
func (m *Meter) Describe() string {
	if m.rec == nil {
		return ""
	}
	h := m.rec.Snapshot()
	p99 := "-"
	if s := h.Summary(); s != nil {
		p99 = US(s.P99)
	}
	return fmt.Sprintf("conns %d/%d  reqs %s  p99 %s  errors %d", m.open.Load(), m.Opts.Conns, Num(h.Count()), p99, m.Errs.Total())
}

// Ring is a FIFO of send times (Now values) of the requests in flight on
// one connection, oldest first, owned by whoever drives the connection.
type Ring struct {
	t       []int64
	head, n int
}

// NewRing returns a Ring for up to capacity requests in flight.
func NewRing(capacity int) Ring { return Ring{t: make([]int64, capacity)} }

// Len is the number of requests in flight.
func (r *Ring) Len() int { return r.n }

// Push adds a request sent at v; the Ring must not be full.
func (r *Ring) Push(v int64) {
	r.t[(r.head+r.n)%len(r.t)] = v
	r.n++
}

// Pop removes and returns the oldest send time; the Ring must not be empty.
func (r *Ring) Pop() int64 {
	v := r.t[r.head]
	r.head = (r.head + 1) % len(r.t)
	r.n--
	return v
}

// Reset forgets every request in flight.
func (r *Ring) Reset() { r.head, r.n = 0, 0 }
