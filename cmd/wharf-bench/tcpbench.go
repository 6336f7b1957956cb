package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/internal/loadgen"
	"wharf/tlsconn"
)

// tcpBench is what echo and packet share: connections driven by one wharf
// engine (one event loop per CPU, or -loops), so that the generator costs
// little CPU per message, on top of the counting every bench does
// (loadgen.Meter: latency per loop, -n, -rate, the end of the run).
//
// Per-connection state is the subcommand's, set as the Conn's context and
// touched only by the connection's callbacks (its event loop). The fields
// here are immutable once start has begun.
type tcpBench struct {
	*loadgen.Meter
	o   *loadgen.Options
	eng *engine.Engine
	tls *tlsconn.Handler // -tls: the client side of TLS around the subcommand's handler; nil without
}

func newTCPBench(o *loadgen.Options) *tcpBench {
	return &tcpBench{Meter: loadgen.NewMeter(o), o: o}
}

// startEngine readies the counters and creates and starts the engine
// serving h.
func (b *tcpBench) startEngine(h engine.Handler) error {
	b.Init(b.o.Loops)
	cfg := engine.Config{Loops: b.o.Loops, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if b.Interval() > 0 {
		// Pacing timers need a finer tick than the default 10ms.
		cfg.TimerResolution = time.Millisecond
	}
	if len(b.o.Addrs) > 0 {
		host, _, _ := net.SplitHostPort(b.o.Addrs[0])
		tc, err := b.o.TLSConfig(host)
		if err != nil {
			return err
		}
		if tc != nil {
			// Each connection handshakes on its own goroutine, then runs
			// on its loop; the subcommand's OnOpen comes after the
			// handshake, so the window starts with connections ready.
			if b.tls, err = tlsconn.NewHandler(tlsconn.Config{TLS: tc, Client: true, HandshakeTimeout: b.o.Timeout, Logger: cfg.Logger}, h); err != nil {
				return err
			}
			h = b.tls
		}
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
	for range min(b.o.Conns, 128) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.o.Conns || ctx.Err() != nil || b.Stopping() {
					return
				}
				addr, src := b.o.Target(i)
				_, err := b.eng.Dial(ctx, "tcp", addr, engine.DialOptions{
					LocalAddr: src,
					Timeout:   b.o.Timeout,
					Context:   state(i),
					Control:   loadgen.BindNoPort,
				})
				if err != nil {
					b.Failed.Add(1)
					b.Errs.Add("dial:"+loadgen.Kind(err), 1)
					continue
				}
				b.Dials.Add(1)
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
	for t := time.Now(); b.OpenedTotal() < b.Dials.Load() && time.Since(t) < time.Second; {
		time.Sleep(time.Millisecond)
	}
	b.DialPhaseOver()
}

// paceOK reports whether the connection may send at now under -rate. When
// it may not, it arms one timer that runs resume when it may.
func (b *tcpBench) paceOK(c engine.Conn, p *loadgen.Pace, now int64, resume func(engine.Conn)) bool {
	wait := b.Paced(p, now)
	if wait == 0 {
		return true
	}
	if !p.Armed {
		p.Armed = true
		c.AfterFunc(wait, resume)
	}
	return false
}

// onClose counts a closed connection (OnClose): a drop, with its reason,
// unless the run is stopping or the subcommand closed it itself (err nil).
func (b *tcpBench) onClose(err error, notice bool) {
	reason := ""
	if err != nil {
		reason = loadgen.DropReason(err, notice)
	}
	b.Closed(reason)
}

// inFlight sums, over every open connection, what n reports of its state.
func (b *tcpBench) inFlight(n func(ctx any) int) int {
	var mu sync.Mutex
	total := 0
	b.eng.Each(func(c engine.Conn) {
		if b.tls != nil {
			l, ok := engine.LayeredOf(c)
			if !ok {
				return // still handshaking: nothing in flight yet
			}
			c = l
		}
		k := n(c.Context())
		mu.Lock()
		total += k
		mu.Unlock()
	})
	return total
}

// tlsErrors adds the failed handshakes of -tls to the errors, by reason
// ("tls:bad_certificate"...): their connections never reached the
// subcommand.
func (b *tcpBench) tlsErrors() {
	if b.tls == nil {
		return
	}
	b.tls.Stats().Failed.Each(func(reason string, n uint64) {
		if n > 0 {
			b.Errs.Add("tls:"+reason, int64(n))
		}
	})
}

// drainAndClose waits until nothing is in flight (at most -timeout, and at
// most 5s), then shuts the engine down.
func (b *tcpBench) drainAndClose(n func(ctx any) int) {
	if b.eng == nil {
		return
	}
	limit := min(b.o.Timeout, 5*time.Second)
	for t := time.Now(); time.Since(t) < limit && b.inFlight(n) > 0; {
		time.Sleep(5 * time.Millisecond)
	}
	b.tlsErrors() // before Shutdown, which would fail the handshakes in progress
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.eng.Shutdown(ctx)
}
