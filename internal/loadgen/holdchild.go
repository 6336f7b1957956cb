package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"wharf/websocket"

	"wharf/engine"
	"wharf/packet"
)

// childReport is one line a hold child writes to its stdout once a second,
// and once more, with Phase "done", before it exits. Counters are totals
// since the child started; Hist holds the ping latencies since the previous
// report only (the parent adds them up).
type childReport struct {
	Index      int              `json:"i"`
	PID        int              `json:"pid"`
	Phase      string           `json:"phase"` // ramp, hold, closing, done
	Target     int64            `json:"target"`
	Connected  int64            `json:"connected"`
	Connecting int64            `json:"connecting"`
	Peak       int64            `json:"peak"`
	ReachedMS  int64            `json:"reached_ms"` // Unix ms when Connected first reached Target; 0: not yet
	Dials      int64            `json:"dials"`      // successful dials
	Reconnects int64            `json:"reconnects"` // successful dials of slots that had been connected
	Pings      int64            `json:"pings"`
	Pongs      int64            `json:"pongs"`
	Skipped    int64            `json:"skipped"` // heartbeats due with the last ping unanswered
	Drops      map[string]int64 `json:"drops"`
	DialErrors map[string]int64 `json:"dial_errors"`
	Hist       Sparse           `json:"hist"`
	RSS        int64            `json:"rss"`
	BaseRSS    int64            `json:"base_rss"`     // before the first dial
	HeldAtStop int64            `json:"held_at_stop"` // Connected when the stop came (done only)
	RSSAtStop  int64            `json:"rss_at_stop"`  // RSS when the stop came (done only)
	Err        string           `json:"err,omitempty"`
}

// HoldDialer opens one connection of a hold child to addr and hands it to
// e, with o.Context (the connection's slot) as its context, so that the
// child's handler serves it on e's loops; o also carries the source
// address, the dial timeout and the socket Control. It returns once the
// connection is handed to e, or the dial failed. One HoldDialer per
// transport: DialTCP for TCP; a transport layered on a stream (TLS,
// WebSocket) dials and handshakes its net.Conn, then gives it to
// e.ServeConn with o.Context as the connection's context.
type HoldDialer func(ctx context.Context, e *engine.Engine, addr string, o engine.DialOptions) error

// DialTCP is the HoldDialer of plain TCP: e.Dial.
func DialTCP(ctx context.Context, e *engine.Engine, addr string, o engine.DialOptions) error {
	_, err := e.Dial(ctx, "tcp", addr, o)
	return err
}

// DialWebSocket is the HoldDialer of the packet protocol over WebSocket
// (ws://addr+path, subprotocol wharf.packet.v1): it dials and handshakes
// with the websocket client, from o's source address, and serves the
// connection's byte stream of binary messages on e (Engine.ServeConn), one
// goroutine per connection reading it.
func DialWebSocket(path string) HoldDialer {
	return func(ctx context.Context, e *engine.Engine, addr string, o engine.DialOptions) error {
		opts := websocket.DialOptions{Subprotocols: []string{packet.WebSocketSubprotocol}}
		opts.NetDial = func(ctx context.Context, network, a string) (net.Conn, error) {
			d := net.Dialer{Control: o.Control, KeepAlive: -1}
			if o.LocalAddr != "" {
				la := o.LocalAddr
				if _, _, err := net.SplitHostPort(la); err != nil {
					la = net.JoinHostPort(la, "0")
				}
				tcp, err := net.ResolveTCPAddr(network, la)
				if err != nil {
					return nil, err
				}
				d.LocalAddr = tcp
			}
			return d.DialContext(ctx, network, a)
		}
		c, err := websocket.Dial(ctx, "ws://"+addr+path, &opts)
		if err != nil {
			return err
		}
		_, err = e.ServeConn(c.NetConn(), engine.ConnOptions{Context: o.Context})
		return err
	}
}

// holdConn is one connection slot of a child: the connection it holds, or
// will dial again. About 16 bytes: at a million connections every byte here
// is a megabyte.
//
// Ownership passes with the connection's life: a dial worker owns the slot
// while dialing it; from OnOpen to OnClose the connection's event loop
// does; then the redial timer and a worker again. Each hand-off goes
// through a channel or the engine's task queue, which orders the accesses.
type holdConn struct {
	sentAt int64  // h.now() of the unanswered ping; 0: none
	idx    int32  // the slot's index
	fails  uint16 // consecutive failed dials, for the backoff
	notice bool   // the server announced its shutdown on this connection
	wasUp  bool   // connected before: the next successful dial is a reconnect
}

// holdChild is one process of hold: it opens its share of the connections
// on one engine, pings each every heartbeat, redials what drops, and
// reports to the parent over stdout.
type holdChild struct {
	o         *HoldConfig
	index     int
	offset    int // global index of slot 0, for spreading over targets and sources
	eng       *engine.Engine
	base      time.Time
	slots     []holdConn
	heartbeat time.Duration
	ping      []byte
	beat      func(engine.Conn) // h.onBeat as a value, made once

	dialq    chan int32 // slots waiting for a dial; never holds a slot twice
	stopCh   chan struct{}
	stopOnce sync.Once
	stopping atomic.Bool

	connected, connecting, peak     atomic.Int64
	dials, reconnects, pings, pongs atomic.Int64
	skipped, reachedMS              atomic.Int64
	drops, dialErrs                 Counts
	rec                             *Recorder
	baseRSS, heldAtStop, rssAtStop  atomic.Int64
	phase                           atomic.Value // string
}

// RunHoldChild is the child side of hold (c.IsChild): it opens its share
// of the connections with c.Dial, pings each every heartbeat, redials what
// drops, and reports to the parent on out, one JSON line a second. It
// takes "stop" lines on in, and exits the process at once if in reaches
// EOF (the parent is gone). c must have passed Check. It returns the exit
// status.
func RunHoldChild(ctx context.Context, c *HoldConfig, in io.Reader, out io.Writer) int {
	o := c
	h := &holdChild{
		o:         o,
		index:     o.ChildIndex,
		offset:    o.ChildOffset,
		heartbeat: o.Heartbeat,
		stopCh:    make(chan struct{}),
	}
	h.phase.Store("ramp")
	w := bufio.NewWriter(out)
	fail := func(err error) int {
		json.NewEncoder(w).Encode(childReport{Index: h.index, PID: os.Getpid(), Phase: "done", Err: err.Error()})
		w.Flush()
		return ExitUsage
	}
	soft, _, err := RaiseFileLimit()
	if err != nil {
		return fail(err)
	}
	if need := uint64(o.Conns) + 64; soft < need {
		return fail(fmt.Errorf("child %d: RLIMIT_NOFILE is %d, %d connections need %d: use more -procs or a smaller -per-proc", h.index, soft, o.Conns, need))
	}
	h.slots = make([]holdConn, o.Conns)
	for i := range h.slots {
		h.slots[i].idx = int32(i)
	}
	h.dialq = make(chan int32, o.Conns)
	h.ping, _ = packet.Encode(packet.CodePing, nil)
	h.beat = h.onBeat
	h.rec = NewRecorder(o.Loops)
	h.base = time.Now()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.eng, err = engine.New(engine.Config{Loops: o.Loops, ReadBufferSize: 16 << 10, MaxInbound: 64 << 10, Logger: quiet}, h)
	if err == nil {
		err = h.eng.Start()
	}
	if err != nil {
		return fail(err)
	}

	// The parent: "stop" ends the hold; EOF means it died, and so do we.
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			if sc.Text() == "stop" {
				h.stop()
			}
		}
		os.Exit(3)
	}()

	var workers sync.WaitGroup
	work := make(chan int32)
	for range max(1, min(o.Dialers, o.Conns)) {
		workers.Go(func() {
			for slot := range work {
				h.dial(ctx, slot)
			}
		})
	}
	debug.FreeOSMemory()
	if rss, err := RSS(); err == nil {
		h.baseRSS.Store(rss)
	}
	for i := range h.slots {
		h.dialq <- int32(i)
	}
	var pacer sync.WaitGroup
	pacer.Go(func() { h.pace(work, o.Rate) })

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	h.report(w)
	for {
		select {
		case <-tick.C:
			h.report(w)
			continue
		case <-ctx.Done():
			h.stop()
		case <-h.stopCh:
		}
		break
	}

	// Stop: no more dials, then close every connection at -close-rate so
	// that the server is not hit by all the closes at once (seed 004: a
	// client killed with all its connections snowballed the server).
	h.heldAtStop.Store(h.connected.Load())
	// Measure what the connections hold, not the garbage of dialing them.
	debug.FreeOSMemory()
	if rss, err := RSS(); err == nil {
		h.rssAtStop.Store(rss)
	}
	h.phase.Store("closing")
	pacer.Wait() // it closed work
	workers.Wait()
	h.report(w)
	var conns []engine.Conn
	var mu sync.Mutex
	h.eng.Each(func(c engine.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	})
	h.closePaced(conns, o.CloseRate, tick.C, w)
	for t := time.Now(); h.connected.Load() > 0 && time.Since(t) < 5*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	h.eng.Shutdown(sctx)
	cancel()
	h.phase.Store("done")
	h.report(w)
	return ExitOK
}

// stop ends the hold phase; idempotent, any goroutine.
func (h *holdChild) stop() {
	h.stopOnce.Do(func() {
		h.stopping.Store(true)
		close(h.stopCh)
	})
}

// now is the time since the child started, in nanoseconds.
func (h *holdChild) now() int64 { return int64(time.Since(h.base)) }

// pace hands slots from dialq to the dial workers at rate per second,
// allowing bursts of 10ms worth, until stop; then closes work.
func (h *holdChild) pace(work chan<- int32, rate float64) {
	defer close(work)
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for {
		var slot int32
		select {
		case slot = <-h.dialq:
		case <-h.stopCh:
			return
		}
		now := time.Now()
		if wait := next.Sub(now); wait > 0 {
			select {
			case <-time.After(wait):
			case <-h.stopCh:
				return
			}
		}
		next = maxTime(next, now.Add(-10*time.Millisecond)).Add(interval)
		select {
		case work <- slot:
		case <-h.stopCh:
			return
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dial connects slot. On failure it counts the error and, with -reconnect,
// schedules another try.
func (h *holdChild) dial(ctx context.Context, slot int32) {
	if h.stopping.Load() {
		return
	}
	st := &h.slots[slot]
	addr, src := h.o.target(h.offset + int(slot))
	h.connecting.Add(1)
	err := h.o.Dial(ctx, h.eng, addr, engine.DialOptions{
		LocalAddr: src,
		Timeout:   h.o.Timeout,
		Context:   st,
		Control:   BindNoPort,
	})
	h.connecting.Add(-1)
	if err != nil {
		if h.stopping.Load() {
			return
		}
		h.dialErrs.Add(Kind(err), 1)
		st.fails = min(st.fails+1, 30)
		h.redial(st)
		return
	}
	h.dials.Add(1)
}

// redial schedules st's next dial after a jittered exponential backoff,
// if -reconnect is on.
func (h *holdChild) redial(st *holdConn) {
	if !h.o.Reconnect || h.stopping.Load() {
		return
	}
	d := min(100*time.Millisecond<<min(st.fails, 10), h.o.MaxBackoff)
	d = d/2 + rand.N(d/2+1)
	slot := st.idx
	time.AfterFunc(d, func() {
		if !h.stopping.Load() {
			h.dialq <- slot // cannot block: the slot is in no other place
		}
	})
}

func (h *holdChild) OnOpen(c engine.Conn) {
	st := c.Context().(*holdConn)
	st.fails = 0
	st.sentAt = 0
	st.notice = false
	if st.wasUp {
		h.reconnects.Add(1)
	}
	st.wasUp = true
	n := h.connected.Add(1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	if n == int64(len(h.slots)) {
		h.reachedMS.CompareAndSwap(0, time.Now().UnixMilli())
		h.phase.CompareAndSwap("ramp", "hold")
	}
	// The first ping at a random point of the first period spreads the
	// heartbeats evenly however fast the ramp was.
	c.AfterFunc(rand.N(h.heartbeat)+1, h.beat)
}

// onBeat sends the heartbeat ping and schedules the next one. It runs on
// c's loop (engine.Conn.AfterFunc).
//
// Heartbeats go on while the run closes its connections at -close-rate:
// a connection not yet closed is still held, and a server's idle timeout
// would otherwise kick those left for last.
func (h *holdChild) onBeat(c engine.Conn) {
	st := c.Context().(*holdConn)
	if st.sentAt != 0 {
		h.skipped.Add(1) // still waiting for the last pong; its deadline will tell
	} else if _, err := c.Write(h.ping); err == nil {
		st.sentAt = max(h.now(), 1)
		h.pings.Add(1)
		c.SetDeadline(time.Now().Add(h.o.Timeout))
	}
	// ±1% jitter keeps the spread from drifting into step.
	jitter := h.heartbeat / 100
	c.AfterFunc(h.heartbeat-jitter+rand.N(2*jitter+1), h.beat)
}

func (h *holdChild) OnData(c engine.Conn) error {
	st := c.Context().(*holdConn)
	for {
		hdr, err := c.Peek(packet.HeaderSize)
		if err != nil {
			return nil
		}
		ph := packet.ParseHeader(hdr)
		if ph.Length < packet.HeaderSize || int(ph.Length) > packet.DefaultMaxPacket {
			return &ProtocolError{fmt.Sprintf("packet length %d", ph.Length)}
		}
		if c.InboundBuffered() < int(ph.Length) {
			return nil
		}
		p, _ := c.Next(int(ph.Length))
		switch ph.Code {
		case packet.CodePing:
			if st.sentAt == 0 {
				continue // a pong we did not ask for: harmless
			}
			h.rec.Record(c.Loop(), time.Duration(h.now()-st.sentAt))
			h.pongs.Add(1)
			st.sentAt = 0
			c.SetDeadline(time.Time{})
		case packet.CodeError:
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(p[packet.HeaderSize:], &e)
			if e.Error == ShutdownNotice {
				st.notice = true
			}
		}
	}
}

func (h *holdChild) OnClose(c engine.Conn, err error) {
	st := c.Context().(*holdConn)
	h.connected.Add(-1)
	if h.stopping.Load() && (err == nil || err == engine.ErrEngineClosed) {
		return // our own close
	}
	reason := "local"
	if err != nil {
		reason = DropReason(err, st.notice)
		if reason == "reply_timeout" {
			reason = "pong_timeout"
		}
	}
	h.drops.Add(reason, 1)
	h.redial(st)
}

// closePaced closes conns at rate per second (0: all at once), reporting
// once a second meanwhile.
func (h *holdChild) closePaced(conns []engine.Conn, rate float64, tick <-chan time.Time, w *bufio.Writer) {
	if rate <= 0 {
		for _, c := range conns {
			c.Close()
		}
		return
	}
	start := time.Now()
	for i, c := range conns {
		c.Close()
		if due := start.Add(time.Duration(float64(i+1) / rate * float64(time.Second))); time.Until(due) > time.Millisecond {
			select {
			case <-time.After(time.Until(due)):
			case <-tick:
				h.report(w)
			}
		}
	}
}

// report writes one childReport line.
func (h *holdChild) report(w *bufio.Writer) {
	r := childReport{
		Index:      h.index,
		PID:        os.Getpid(),
		Phase:      h.phase.Load().(string),
		Target:     int64(len(h.slots)),
		Connected:  h.connected.Load(),
		Connecting: h.connecting.Load(),
		Peak:       h.peak.Load(),
		ReachedMS:  h.reachedMS.Load(),
		Dials:      h.dials.Load(),
		Reconnects: h.reconnects.Load(),
		Pings:      h.pings.Load(),
		Pongs:      h.pongs.Load(),
		Skipped:    h.skipped.Load(),
		Drops:      h.drops.Snapshot(),
		DialErrors: h.dialErrs.Snapshot(),
		Hist:       h.rec.Drain().Sparse(),
		BaseRSS:    h.baseRSS.Load(),
		HeldAtStop: h.heldAtStop.Load(),
		RSSAtStop:  h.rssAtStop.Load(),
	}
	r.RSS, _ = RSS()
	json.NewEncoder(w).Encode(r)
	w.Flush()
}
