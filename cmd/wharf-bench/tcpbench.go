package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/internal/loadgen"
)

// tcpBench is what echo and packet share: connections driven by one wharf
// engine (one event loop per CPU, or -loops), so that the generator costs
// little CPU per message; latency recorded per loop; -n, -rate and stop.
//
// Per-connection state is the subcommand's, set as the Conn's context and
// touched only by the connection's callbacks (its event loop). The fields
// here are atomics or immutable once start has begun.
type tcpBench struct {
	o        *options
	eng      *engine.Engine
	base     time.Time // monotonic origin of now()
	interval int64     // pacing per connection, ns (0: none)
	rec      *loadgen.Recorder
	errs     loadgen.Counts

	stopping  atomic.Bool  // set by halt: connections stop issuing
	budget    atomic.Int64 // with -n: requests that may still be issued
	completed atomic.Int64 // with -n: requests completed
	doneCh    chan struct{}
	doneOnce  sync.Once

	opened, failed, dropped, open, peak atomic.Int64
	dials                               atomic.Int64 // Dial calls that returned success
	dialed                              atomic.Bool  // echo, packet: the dial phase is over, so no open connection left means the end (http and kcp redial instead)
	reconnects                          atomic.Int64 // connections dialed again after one ended (http, kcp)
}

func newTCPBench(o *options) *tcpBench {
	return &tcpBench{o: o, doneCh: make(chan struct{})}
}

// init readies the counters, with shards latency shards. Subcommands that
// run a goroutine per connection (http, kcp) use tcpBench for this and the
// counting methods only.
func (b *tcpBench) init(shards int) {
	b.base = time.Now()
	b.interval = b.o.interval()
	b.rec = loadgen.NewRecorder(shards)
	b.budget.Store(b.o.n)
}

// startEngine creates and starts the engine serving h.
func (b *tcpBench) startEngine(h engine.Handler) error {
	b.init(b.o.loops)
	cfg := engine.Config{Loops: b.o.loops, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if b.interval > 0 {
		// Pacing timers need a finer tick than the default 10ms.
		cfg.TimerResolution = time.Millisecond
	}
	e, err := engine.New(cfg, h)
	if err != nil {
		return err
	}
	if err := e.Start(); err != nil {
		return err
	}
	b.eng = e
	return nil
}

// dialAll opens -c connections, state(i) being connection i's context,
// from a bounded number of goroutines, and returns when every dial has
// returned and every dialed connection has been opened by its loop.
func (b *tcpBench) dialAll(ctx context.Context, state func(i int) any) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(b.o.conns, 128) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.o.conns || ctx.Err() != nil || b.stopping.Load() {
					return
				}
				addr, src := b.o.target(i)
				_, err := b.eng.Dial(ctx, "tcp", addr, engine.DialOptions{
					LocalAddr: src,
					Timeout:   b.o.timeout,
					Context:   state(i),
					Control:   loadgen.BindNoPort,
				})
				if err != nil {
					b.failed.Add(1)
					b.errs.Add("dial:"+loadgen.Kind(err), 1)
					continue
				}
				b.dials.Add(1)
			}
		})
	}
	wg.Wait()
	// Dial returns once the connection is handed to its loop; OnOpen runs
	// there a moment later. Wait for it (briefly), so that the window
	// starts with every connection counted. A dropped connection was opened
	// first (the engine runs OnClose only after OnOpen), so opened alone
	// counts it: adding drops would end the wait, and with no connection
	// open the run, before the last dialed connection's OnOpen.
	for t := time.Now(); b.opened.Load() < b.dials.Load() && time.Since(t) < time.Second; {
		time.Sleep(time.Millisecond)
	}
	b.dialed.Store(true)
	if b.open.Load() == 0 {
		b.finishEarly()
	}
}

// now is the time since start in nanoseconds (monotonic).
func (b *tcpBench) now() int64 { return int64(time.Since(b.base)) }

// mayIssue reports whether a connection may send one more request, and
// takes it from the -n budget.
func (b *tcpBench) mayIssue() bool {
	if b.stopping.Load() {
		return false
	}
	return b.o.n == 0 || b.budget.Add(-1) >= 0
}

// complete records one exchange sent at sent (a now value), on loop.
func (b *tcpBench) complete(loop int, sent, now int64) {
	b.rec.Record(loop, time.Duration(now-sent))
	if b.o.n > 0 && b.completed.Add(1) == b.o.n {
		b.finishEarly()
	}
}

func (b *tcpBench) finishEarly() { b.doneOnce.Do(func() { close(b.doneCh) }) }

// pace is a connection's -rate schedule. Owned by the connection's loop.
type pace struct {
	next  int64 // earliest time (a now value) of the next send
	armed bool  // a resume timer is pending
}

// paceOK reports whether the connection may send at now under -rate. When
// it may not, it arms one timer that runs resume when it may.
func (b *tcpBench) paceOK(c engine.Conn, p *pace, now int64, resume func(engine.Conn)) bool {
	if b.interval == 0 {
		return true
	}
	if now < p.next {
		if !p.armed {
			p.armed = true
			c.AfterFunc(time.Duration(p.next-now), resume)
		}
		return false
	}
	// Keep the average rate when replies come late, but never owe more
	// than one send: a stalled connection must not burst to catch up.
	p.next = max(p.next+b.interval, now-b.interval)
	return true
}

// startPace spreads connection i's first send over one interval, so that
// paced connections do not all send at once.
func (b *tcpBench) startPace(i int) pace {
	if b.interval == 0 {
		return pace{}
	}
	return pace{next: b.now() + b.interval*int64(i%b.o.conns)/int64(b.o.conns)}
}

// opened counts an open connection (from OnOpen).
func (b *tcpBench) onOpen() {
	b.opened.Add(1)
	n := b.open.Add(1)
	for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
	}
}

// onClose counts a closed connection: a drop, with its reason, unless the
// run is stopping or the subcommand closed it itself (err nil).
func (b *tcpBench) onClose(err error, notice bool) {
	reason := ""
	if err != nil {
		reason = dropReason(err, notice)
	}
	b.closedConn(reason)
}

// closedConn counts a closed connection; reason is why, "" when the
// subcommand closed it on purpose. Closes while stopping are not drops.
func (b *tcpBench) closedConn(reason string) {
	stopping := b.stopping.Load()
	// Count the drop before finishEarly: it wakes the run, which stops
	// and reports at once, and must find the last connection's drop.
	if reason != "" && !stopping {
		b.drop(reason)
	}
	if b.open.Add(-1) == 0 && b.dialed.Load() && !stopping {
		b.finishEarly()
	}
}

// drop counts a connection lost for reason.
func (b *tcpBench) drop(reason string) {
	b.dropped.Add(1)
	b.errs.Add("drop:"+reason, 1)
}

// dropReason names why a connection closed (OnClose's err). notice says the
// server announced its shutdown first.
func dropReason(err error, notice bool) string {
	switch engine.CloseReasonOf(err) {
	case engine.ReasonPeer:
		if notice {
			return "server_shutdown"
		}
		return "server_closed"
	case engine.ReasonDeadline:
		return "reply_timeout"
	case engine.ReasonIdle:
		return "idle"
	case engine.ReasonOutbound:
		return "outbound_full"
	case engine.ReasonInbound:
		return "inbound_full"
	case engine.ReasonPanic:
		return "panic"
	case engine.ReasonShutdown:
		return "shutdown"
	case engine.ReasonError:
		return loadgen.Kind(err)
	}
	var pe *protocolError
	if errors.As(err, &pe) {
		return "protocol"
	}
	return loadgen.Kind(err)
}

// inFlight sums, over every open connection, what n reports of its state.
func (b *tcpBench) inFlight(n func(ctx any) int) int {
	var mu sync.Mutex
	total := 0
	b.eng.Each(func(c engine.Conn) {
		k := n(c.Context())
		mu.Lock()
		total += k
		mu.Unlock()
	})
	return total
}

// drainAndClose waits until nothing is in flight (at most -timeout, and at
// most 5s), then shuts the engine down.
func (b *tcpBench) drainAndClose(n func(ctx any) int) {
	if b.eng == nil {
		return
	}
	limit := min(b.o.timeout, 5*time.Second)
	for t := time.Now(); time.Since(t) < limit && b.inFlight(n) > 0; {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.eng.Shutdown(ctx)
}

// fillResult writes the shared parts of res.
func (b *tcpBench) fillResult(res *loadgen.Result) {
	res.Conns = loadgen.Conns{
		Target:  int64(b.o.conns),
		Opened:  b.opened.Load(),
		Failed:  b.failed.Load(),
		Dropped: b.dropped.Load(),
		Peak:    b.peak.Load(),
	}
	if b.rec != nil {
		h := b.rec.Snapshot()
		res.Requests = h.Count()
		res.Latency = h.Summary()
	}
	res.Errors.ByKind = b.errs.Snapshot()
}

func (b *tcpBench) count() int64 {
	if b.rec == nil {
		return 0
	}
	return b.rec.Count()
}
func (b *tcpBench) done() <-chan struct{} { return b.doneCh }
func (b *tcpBench) halt()                 { b.stopping.Store(true) }

func (b *tcpBench) describe() string {
	if b.rec == nil {
		return ""
	}
	h := b.rec.Snapshot()
	p99 := "-"
	if s := h.Summary(); s != nil {
		p99 = loadgen.US(s.P99)
	}
	return fmt.Sprintf("conns %d/%d  reqs %s  p99 %s  errors %d", b.open.Load(), b.o.conns, loadgen.Num(h.Count()), p99, b.errs.Total())
}

// ring is a FIFO of send times (now values) of requests in flight on one
// connection, oldest first. Owned by the connection's loop.
type ring struct {
	t       []int64
	head, n int
}

func newRing(capacity int) ring { return ring{t: make([]int64, capacity)} }

func (r *ring) push(v int64) {
	r.t[(r.head+r.n)%len(r.t)] = v
	r.n++
}

func (r *ring) pop() int64 {
	v := r.t[r.head]
	r.head = (r.head + 1) % len(r.t)
	r.n--
	return v
}
