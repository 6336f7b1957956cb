package loadgen

import (
	"context"
	"net"
	"sync"
	"time"
)

// Streams drives the connections of a Bench that gives each one its own
// goroutine over a net.Conn (http, kcp; a WebSocket bench would too):
// dial, serve, and, when the connection ends, redial with backoff until
// the run stops. Set the fields, then Start and, at the end, Finish.
type Streams struct {
	// Meter counts the connections: Opened and Closed around each Serve,
	// Failed and "dial:KIND" errors for failed dials, Reconnects.
	Meter *Meter

	// Dial opens connection i (a new one after each end). ctx ends with
	// the run.
	Dial func(ctx context.Context, i int) (net.Conn, error)

	// Serve runs exchanges on nc, connection i on pacing schedule p (kept
	// across redials), until nc fails, the server ends it, or the run
	// stops. more says whether to redial; reason why nc ended, for
	// Meter.Closed ("" for the run's own end or a close on purpose). ctx
	// ends when Finish gives up waiting: Serve must then return promptly
	// (Finish also expires nc's deadlines).
	Serve func(ctx context.Context, nc net.Conn, i int, p *Pace) (more bool, reason string)

	wg     sync.WaitGroup
	ctx    context.Context // ends the connection goroutines
	cancel context.CancelFunc
	mu     sync.Mutex       // guards conns
	conns  map[int]net.Conn // open connections, to unblock them at the end
}

// Start starts one goroutine per connection (Meter.Opts.Conns) and
// returns when every connection has made its first attempt (so the
// measured window starts with them), or ctx ends.
func (s *Streams) Start(ctx context.Context) {
	n := s.Meter.Opts.Conns
	s.conns = make(map[int]net.Conn, n)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var dialed sync.WaitGroup
	dialed.Add(n)
	for i := range n {
		s.wg.Add(1)
		go s.run(i, &dialed)
	}
	ok := make(chan struct{})
	go func() { dialed.Wait(); close(ok) }()
	select {
	case <-ok:
	case <-ctx.Done():
		s.cancel()
		<-ok
	}
}

// run is connection i's goroutine: dial, serve, redial until the end.
func (s *Streams) run(i int, dialed *sync.WaitGroup) {
	defer s.wg.Done()
	m := s.Meter
	first, hadConn := true, false
	p := m.StartPace(i)
	backoff := 10 * time.Millisecond
	for !m.Stopping() && s.ctx.Err() == nil {
		nc, err := s.Dial(s.ctx, i)
		if first {
			first = false
			dialed.Done()
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			m.Failed.Add(1)
			m.Errs.Add("dial:"+Kind(err), 1)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		if hadConn {
			m.Reconnects.Add(1)
		}
		hadConn = true
		m.Opened()
		s.mu.Lock()
		s.conns[i] = nc
		s.mu.Unlock()
		more, reason := s.Serve(s.ctx, nc, i, &p)
		s.mu.Lock()
		delete(s.conns, i)
		s.mu.Unlock()
		nc.Close()
		m.Closed(reason)
		if !more {
			return
		}
	}
}

// Finish lets the requests in flight complete, for at most grace, then
// ends what remains (expiring the connections' deadlines) and waits for
// every goroutine. It must follow Meter.Halt; it does nothing before Start.
func (s *Streams) Finish(grace time.Duration) {
	if s.cancel == nil {
		return
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	s.cancel()
	s.mu.Lock()
	for _, c := range s.conns {
		c.SetDeadline(time.Now())
	}
	s.mu.Unlock()
	<-done
}

// TopUp decides how many requests connection i's goroutine sends now,
// on schedule p with inFlight in flight and at most depth: as many as -n
// and -rate allow, taken from the budget and the schedule; now is their
// send time (a Now value). With requests in flight it never waits (the
// caller reads replies meanwhile); with none it waits for the schedule, at
// most 100ms at a time to notice Halt, and returns 0 when the run stops or
// ctx ends. A 0 with nothing in flight means the connection is done.
func (s *Streams) TopUp(ctx context.Context, p *Pace, inFlight, depth int) (k int, now int64) {
	m := s.Meter
	now = m.Now()
	for inFlight+k < depth {
		if wait := m.untilDue(p, now); wait > 0 {
			if inFlight+k > 0 {
				break // read what is in flight meanwhile
			}
			select {
			case <-time.After(min(wait, 100*time.Millisecond)):
			case <-ctx.Done():
				return 0, now
			}
			if m.Stopping() {
				return 0, now
			}
			now = m.Now()
			continue
		}
		if !m.MayIssue() {
			break
		}
		m.Paced(p, now)
		k++
	}
	return k, now
}
