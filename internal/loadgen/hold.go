package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HoldConfig configures a hold run: wharf-bench hold's flags (Flags
// registers them), and how its connections are dialed. The parent passes
// the flags on to each child process, with the child's share in -c, -rate
// and -close-rate and its place in the hidden -child-* flags. Check fills
// the parsed fields; the config is read-only once the run has started.
type HoldConfig struct {
	// Command is the argument list that makes the program run this hold
	// again, as a child process: the parent starts os.Executable() with
	// Command, then the child's hold flags. It names the subcommand and
	// carries any flags of the caller's own that a child needs. Its first
	// element is Result.Command. Default ["hold"].
	Command []string

	// Dial opens one connection of a child. Default DialTCP. A child is
	// the same program run with the same Command, so it sets the same Dial.
	Dial HoldDialer

	AddrFlag    string        // -addr
	SrcFlag     string        // -src
	Conns       int           // -c
	Dur         time.Duration // -d; 0: until interrupted
	Rate        float64       // -rate: new connections per second, over all processes
	CloseRate   float64       // -close-rate; negative: Rate
	Heartbeat   time.Duration // -heartbeat
	Timeout     time.Duration // -timeout: each dial, each pong
	ProcsFlag   string        // -procs: a number or "auto"
	PerProc     int           // -per-proc; 0: RLIMIT_NOFILE hard limit - 1000
	Reconnect   bool          // -reconnect
	MaxBackoff  time.Duration // -backoff
	Status      time.Duration // -status
	RampTimeout time.Duration // -ramp-timeout; 0: 30s + 3 × Conns / Rate
	Loops       int           // -loops per child
	Dialers     int           // -dialers per child
	JSON        bool          // -json
	MaxErrors   int64         // -max-errors
	Quiet       bool          // -q

	Transport string // -transport: "tcp" (Dial's default, DialTCP) or "ws" (DialWebSocket)
	WSPath    string // -ws-path: the WebSocket endpoint's path

	ChildIndex  int // -child-index: >= 0 when this process is child number ChildIndex
	ChildOffset int // -child-offset: global index of the child's first connection

	addrs []string     // parsed -addr
	srcs  []netip.Addr // parsed -src
}

// Flags registers hold's flags on fs.
func (o *HoldConfig) Flags(fs *flag.FlagSet) {
	fs.StringVar(&o.AddrFlag, "addr", "127.0.0.1:7000", "wharfd packet port(s) `HOST:PORT[,HOST:PORT...]`; connections spread over them")
	fs.StringVar(&o.SrcFlag, "src", "", "source addresses `IP[-IP|-LASTBYTE][,...]` (e.g. 127.0.0.2-127.0.0.60); default: the kernel's choice")
	fs.IntVar(&o.Conns, "c", 1000, "connections to open and hold")
	fs.DurationVar(&o.Dur, "d", 10*time.Second, "how long to hold once every connection is up (0: until SIGINT/SIGTERM)")
	fs.Float64Var(&o.Rate, "rate", 20000, "new connections per second, over all processes (redials included)")
	fs.Float64Var(&o.CloseRate, "close-rate", -1, "closes per second at the end, over all processes (0: all at once; default: -rate)")
	fs.DurationVar(&o.Heartbeat, "heartbeat", 30*time.Second, "ping (code 0) every connection this often, spread evenly")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "bound on each dial and on each pong (a ping unanswered this long closes the connection: drop pong_timeout)")
	fs.StringVar(&o.ProcsFlag, "procs", "auto", "child processes: a number, or auto = ceil(-c / -per-proc)")
	fs.IntVar(&o.PerProc, "per-proc", 0, "connections per child process (0: RLIMIT_NOFILE hard limit - 1000)")
	fs.BoolVar(&o.Reconnect, "reconnect", true, "redial dropped connections, with jittered exponential backoff")
	fs.DurationVar(&o.MaxBackoff, "backoff", 5*time.Second, "the longest wait before a redial")
	fs.DurationVar(&o.Status, "status", 5*time.Second, "print a status line this often (stderr)")
	fs.DurationVar(&o.RampTimeout, "ramp-timeout", 0, "start the hold phase after this long even if not every connection is up (0: 30s + 3 × -c / -rate)")
	fs.IntVar(&o.Loops, "loops", 1, "event loops per child")
	fs.IntVar(&o.Dialers, "dialers", 64, "concurrent dials per child")
	fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON object on stdout (the text summary goes to stderr)")
	fs.Int64Var(&o.MaxErrors, "max-errors", 0, "exit with status 1 when drops + failed dials exceed this (-1: never)")
	fs.BoolVar(&o.Quiet, "q", false, "no live progress line")
	fs.StringVar(&o.Transport, "transport", "tcp", "tcp, or ws: the packet protocol over WebSocket (ws://ADDR/ws, wharf.packet.v1); -addr is then the HTTP port")
	fs.StringVar(&o.WSPath, "ws-path", "/ws", "with -transport ws: the endpoint's path")
	fs.IntVar(&o.ChildIndex, "child-index", -1, "internal: run as child process number N")
	fs.IntVar(&o.ChildOffset, "child-offset", 0, "internal: global index of the child's first connection")
}

// Check validates the flags after parsing and fills the defaults.
func (o *HoldConfig) Check() error {
	if len(o.Command) == 0 {
		o.Command = []string{"hold"}
	}
	switch {
	case o.Transport == "ws":
		o.Dial = DialWebSocket(o.WSPath)
	case o.Transport != "" && o.Transport != "tcp":
		return fmt.Errorf("-transport %q: want tcp or ws", o.Transport)
	case o.Dial == nil:
		o.Dial = DialTCP
	}
	var err error
	if o.addrs, o.srcs, err = parseTargets(o.AddrFlag, o.SrcFlag, true); err != nil {
		return err
	}
	switch {
	case o.Conns < 1:
		return fmt.Errorf("-c must be at least 1")
	case o.Dur < 0:
		return fmt.Errorf("-d must not be negative")
	case o.Rate <= 0:
		return fmt.Errorf("-rate must be positive")
	case o.Heartbeat < 10*time.Millisecond:
		return fmt.Errorf("-heartbeat must be at least 10ms")
	case o.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	case o.Loops < 1:
		return fmt.Errorf("-loops must be at least 1")
	case o.Dialers < 1:
		return fmt.Errorf("-dialers must be at least 1")
	case o.PerProc < 0:
		return fmt.Errorf("-per-proc must not be negative")
	case o.MaxBackoff < 100*time.Millisecond:
		return fmt.Errorf("-backoff must be at least 100ms")
	}
	if o.CloseRate < 0 {
		o.CloseRate = o.Rate
	}
	return nil
}

// IsChild reports whether this process runs as a hold child (-child-index).
func (o *HoldConfig) IsChild() bool { return o.ChildIndex >= 0 }

// target returns the address and source address of global connection i,
// spread as Options.Target spreads them.
func (o *HoldConfig) target(i int) (addr, src string) { return Spread(o.addrs, o.srcs, i) }

// procs returns the number of child processes and the connection budget of
// each.
func (o *HoldConfig) procs() (int, int, error) {
	budget := o.PerProc
	if budget == 0 {
		_, hard, err := RaiseFileLimit()
		if err != nil {
			return 0, 0, err
		}
		budget = int(min(hard, 1<<30)) - 1000
		if budget < 100 {
			return 0, 0, fmt.Errorf("RLIMIT_NOFILE hard limit %d leaves no room for connections", hard)
		}
	}
	if o.ProcsFlag == "auto" {
		return (o.Conns + budget - 1) / budget, budget, nil
	}
	n, err := strconv.Atoi(o.ProcsFlag)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("-procs must be auto or a positive number, got %q", o.ProcsFlag)
	}
	n = min(n, o.Conns)
	if per := (o.Conns + n - 1) / n; per > budget {
		return 0, 0, fmt.Errorf("-procs %d gives %d connections per process, over the budget of %d (-per-proc or the fd limit): use -procs auto", n, per, budget)
	}
	return n, budget, nil
}

// RunHold runs the parent side of hold: it starts the child processes,
// aggregates their reports, prints status lines and the live line on
// stderr, and returns the result, judged (Result.Judge). options are the
// flags as given, for Result.Options. c must have passed Check. It returns
// when the run is over: -d after every connection is up (or -ramp-timeout),
// ctx ended, or a child failed. An error means the run could not start (no
// child was started; -procs does not fit the descriptor limit).
func RunHold(ctx context.Context, c *HoldConfig, options map[string]string, stderr io.Writer) (*Result, error) {
	procs, budget, err := c.procs()
	if err != nil {
		return nil, err
	}
	if _, ok := stderr.(*os.File); !ok {
		// The children's stderr is copied in by goroutines of os/exec
		// while the parent writes status lines: serialise the writes.
		stderr = &lockedWriter{w: stderr}
	}
	p := &holdParent{o: c, options: options, procs: procs, budget: budget, stderr: stderr}
	p.progress = NewProgress(stderr, int64(c.Conns), c.Quiet)
	return p.run(ctx), nil
}

// lockedWriter serialises Writes to w. It has no ReadFrom on purpose:
// bytes.Buffer's ReadFrom keeps a slice of the buffer across a blocking Read,
// so os/exec's copy into it would drop what others wrote meanwhile.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// holdParent runs the children and aggregates their reports.
type holdParent struct {
	o        *HoldConfig
	options  map[string]string // the flags, for Result.Options
	procs    int
	budget   int
	stderr   io.Writer
	progress *Progress

	start    time.Time
	children []*holdProc
	hist     *Histogram // every pong's latency so far
	peak     int64
	reached  time.Time // zero until every child has reached its target
}

// holdProc is one child process as the parent sees it. last and exit are
// written by the parent's main goroutine only.
type holdProc struct {
	index  int
	target int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	last   childReport
	seen   bool   // a report has arrived
	done   bool   // the "done" report has arrived
	exited bool   // the process has ended
	exit   string // how it ended
}

// procEvent is a report line, or the end of a child (rep nil).
type procEvent struct {
	child *holdProc
	rep   *childReport
	err   error // with rep nil: how the process ended
}

func (p *holdParent) run(ctx context.Context) *Result {
	o := p.o
	res := &Result{
		Schema:  Schema,
		Command: o.Command[0],
		Targets: o.addrs,
		Options: p.options,
		Started: time.Now(),
	}
	hold := &Hold{Target: int64(o.Conns), Procs: p.procs, Sources: len(o.srcs), HeartbeatS: o.Heartbeat.Seconds()}
	res.Hold = hold
	res.Conns.Target = int64(o.Conns)
	p.hist = NewHistogram()
	p.start = time.Now()

	// PR_SET_PDEATHSIG fires when the thread that forked the child exits,
	// not the process: fork every child from this goroutine's thread, kept
	// locked (so the runtime never retires it) until they are all gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make(chan procEvent, 64)
	var readers sync.WaitGroup
	offset := 0
	for i := range p.procs {
		n := o.Conns / p.procs
		if i < o.Conns%p.procs {
			n++
		}
		c, err := p.spawn(i, offset, n, events, &readers)
		if err != nil {
			p.progress.Println("wharf-bench hold: starting child %d: %v", i, err)
			res.Hints = append(res.Hints, fmt.Sprintf("child %d could not start: %v", i, err))
			p.stopAll()
			p.wait(events, &readers, 10*time.Second)
			p.fill(res)
			res.Judge(o.MaxErrors, "a child process could not start")
			res.ExitCode = ExitUsage
			return res
		}
		p.children = append(p.children, c)
		offset += n
	}
	p.progress.Println("wharf-bench hold: %s connections to %s from %d processes (up to %s each), %d source addresses, %.0f/s, heartbeat %s",
		Num(int64(o.Conns)), strings.Join(o.addrs, ","), p.procs, Num(int64(p.budget)), len(o.srcs), o.Rate, o.Heartbeat)

	rampTimeout := o.RampTimeout
	if rampTimeout == 0 {
		rampTimeout = 30*time.Second + time.Duration(3*float64(o.Conns)/o.Rate*float64(time.Second))
	}
	rampTimer := time.NewTimer(rampTimeout)
	defer rampTimer.Stop()
	var holdEnd <-chan time.Time
	var holdStart time.Time
	statusTick := time.NewTicker(o.Status)
	defer statusTick.Stop()
	drawTick := time.NewTicker(time.Second)
	defer drawTick.Stop()
	short := ""
	beginHold := func(why string) {
		if !holdStart.IsZero() {
			return
		}
		holdStart = time.Now()
		p.progress.Println("wharf-bench hold: %s; holding for %s", why, durOrForever(o.Dur))
		if o.Dur > 0 {
			holdEnd = time.After(o.Dur)
		}
	}
loop:
	for {
		select {
		case ev := <-events:
			p.handle(ev)
			if ev.rep == nil { // no child ends before it is told to
				short = fmt.Sprintf("child %d ended during the run: %s", ev.child.index, ev.child.exit)
				p.progress.Println("wharf-bench hold: %s", short)
				break loop
			}
			if p.reached.IsZero() && p.allReached() {
				p.reached = time.Now()
				beginHold(fmt.Sprintf("all %s connections up", Num(int64(o.Conns))))
			}
		case <-rampTimer.C:
			if holdStart.IsZero() {
				beginHold(fmt.Sprintf("NOT every connection is up after %s (-ramp-timeout)", rampTimeout))
			}
		case <-holdEnd:
			break loop
		case <-ctx.Done():
			p.progress.Println("wharf-bench hold: interrupted")
			break loop
		case <-statusTick.C:
			p.progress.Println("%s", p.statusLine())
		case <-drawTick.C:
			if p.progress.Drawing() {
				p.progress.Update(p.connected(), p.statusLine())
			}
		}
	}
	if !holdStart.IsZero() {
		hold.HeldS = time.Since(holdStart).Seconds()
	}
	p.progress.Println("wharf-bench hold: closing %s connections", Num(p.connected()))
	p.stopAll()
	closeTime := time.Duration(0)
	if o.CloseRate > 0 {
		closeTime = time.Duration(float64(o.Conns) / o.CloseRate * float64(time.Second))
	}
	p.wait(events, &readers, closeTime+o.Timeout+20*time.Second)
	p.progress.Finish()
	p.fill(res)
	if !p.reached.IsZero() {
		// The children stamp the moment; their reports come once a second.
		var last int64
		for _, c := range p.children {
			last = max(last, c.last.ReachedMS)
		}
		hold.Reached = true
		hold.TimeToTargetS = max(0, float64(last-p.start.UnixMilli())/1e3)
	}
	if short == "" && hold.Final < hold.Target {
		short = fmt.Sprintf("held %s of %s connections at the end", Num(hold.Final), Num(hold.Target))
	}
	res.ElapsedS = time.Since(p.start).Seconds()
	if hold.HeldS > 0 {
		res.RequestsPerS = float64(res.Requests) / res.ElapsedS
	}
	res.Hints = append(res.Hints, holdHints(res)...)
	res.Judge(o.MaxErrors, short)
	return res
}

func durOrForever(d time.Duration) string {
	if d == 0 {
		return "until interrupted"
	}
	return d.String()
}

// spawn starts child i with n connections from global index offset.
func (p *holdParent) spawn(i, offset, n int, events chan<- procEvent, readers *sync.WaitGroup) (*holdProc, error) {
	o := p.o
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	share := func(r float64) string { return strconv.FormatFloat(r*float64(n)/float64(o.Conns), 'f', -1, 64) }
	args := append(slices.Clone(o.Command),
		"-child-index", strconv.Itoa(i), "-child-offset", strconv.Itoa(offset),
		"-c", strconv.Itoa(n),
		"-addr", o.AddrFlag, "-src", o.SrcFlag,
		"-rate", share(o.Rate), "-close-rate", share(o.CloseRate),
		"-heartbeat", o.Heartbeat.String(), "-timeout", o.Timeout.String(),
		"-reconnect="+strconv.FormatBool(o.Reconnect), "-backoff", o.MaxBackoff.String(),
		"-loops", strconv.Itoa(o.Loops), "-dialers", strconv.Itoa(o.Dialers),
		"-transport", o.Transport, "-ws-path", o.WSPath,
	)
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	if os.Getenv("GOMAXPROCS") == "" {
		// A child needs little CPU; fewer Ps cost less memory and fewer threads.
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(max(1, (runtime.NumCPU()+p.procs-1)/p.procs)))
	}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = childProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &holdProc{index: i, target: n, cmd: cmd, stdin: stdin}
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			r := new(childReport)
			if err := json.Unmarshal(sc.Bytes(), r); err != nil {
				continue // not a report (a stray line): ignore
			}
			events <- procEvent{child: c, rep: r}
		}
		events <- procEvent{child: c, err: cmd.Wait()}
	})
	return c, nil
}

// handle applies one event. Parent's main goroutine only.
func (p *holdParent) handle(ev procEvent) {
	c := ev.child
	if ev.rep == nil {
		c.exited = true
		switch {
		case ev.err == nil && c.done:
			c.exit = "ok"
		case ev.err == nil:
			c.exit = "exited before reporting done"
		default:
			c.exit = ev.err.Error()
		}
		if c.last.Err != "" {
			c.exit += ": " + c.last.Err
		}
		return
	}
	if err := p.hist.AddSparse(ev.rep.Hist); err != nil {
		p.progress.Println("wharf-bench hold: child %d: %v", c.index, err)
	}
	ev.rep.Hist = nil
	c.last = *ev.rep
	c.seen = true
	if ev.rep.Phase == "done" {
		c.done = true
	}
	if n := p.connected(); n > p.peak {
		p.peak = n
	}
}

func (p *holdParent) allReached() bool {
	for _, c := range p.children {
		if c.last.ReachedMS == 0 {
			return false
		}
	}
	return len(p.children) > 0
}

// connected sums the children's latest connection counts.
func (p *holdParent) connected() int64 {
	var n int64
	for _, c := range p.children {
		n += c.last.Connected
	}
	return n
}

// stopAll asks every child to close its connections and finish.
func (p *holdParent) stopAll() {
	for _, c := range p.children {
		io.WriteString(c.stdin, "stop\n")
	}
}

// wait handles events until every child has ended, killing those still
// running after limit.
func (p *holdParent) wait(events chan procEvent, readers *sync.WaitGroup, limit time.Duration) {
	kill := time.NewTimer(limit)
	defer kill.Stop()
	tick := time.NewTicker(p.o.Status)
	defer tick.Stop()
	for !p.allExited() {
		select {
		case ev := <-events:
			p.handle(ev)
		case <-tick.C:
			p.progress.Println("%s", p.statusLine())
		case <-kill.C:
			for _, c := range p.children {
				if !c.exited {
					p.progress.Println("wharf-bench hold: child %d did not finish in %s: killing it", c.index, limit)
					c.cmd.Process.Kill()
				}
			}
		}
	}
	for _, c := range p.children {
		c.stdin.Close()
	}
	go func() { // drain what the readers still send, then let them end
		readers.Wait()
		close(events)
	}()
	for range events {
	}
}

func (p *holdParent) allExited() bool {
	for _, c := range p.children {
		if !c.exited {
			return false
		}
	}
	return true
}

// statusLine is the periodic one-line status.
func (p *holdParent) statusLine() string {
	var connecting, pongs, recon, rss int64
	drops, dialErrs := map[string]int64{}, map[string]int64{}
	phase := "ramp"
	for _, c := range p.children {
		connecting += c.last.Connecting
		pongs += c.last.Pongs
		recon += c.last.Reconnects
		rss += c.last.RSS
		for k, v := range c.last.Drops {
			drops[k] += v
		}
		for k, v := range c.last.DialErrors {
			dialErrs[k] += v
		}
		if c.last.Phase != "ramp" {
			phase = c.last.Phase
		}
	}
	p99 := "-"
	if s := p.hist.Summary(); s != nil {
		p99 = US(s.P99)
	}
	return fmt.Sprintf("hold %5.0fs %-7s held %s/%s (peak %s)  connecting %s  pongs %s p99 %s  drops %s  reconnects %s  dial errors %s  rss %s",
		time.Since(p.start).Seconds(), phase, Num(p.connected()), Num(int64(p.o.Conns)), Num(p.peak),
		Num(connecting), Num(pongs), p99, sumKinds(drops), Num(recon), sumKinds(dialErrs), Bytes(rss))
}

// sumKinds is "0", or the total and its parts: "3 (reset 2, pong_timeout 1)".
func sumKinds(m map[string]int64) string {
	var t int64
	var parts []string
	for _, k := range SortedKeys(m) {
		t += m[k]
		parts = append(parts, k+" "+Num(m[k]))
	}
	if t == 0 {
		return "0"
	}
	return Num(t) + " (" + strings.Join(parts, ", ") + ")"
}

// fill writes the children's final numbers into res.
func (p *holdParent) fill(res *Result) {
	h := res.Hold
	h.Peak = p.peak
	h.Drops, h.DialErrors = map[string]int64{}, map[string]int64{}
	res.Errors.ByKind = map[string]int64{}
	for _, c := range p.children {
		r := c.last
		h.Final += r.HeldAtStop
		h.Pings += r.Pings
		h.Pongs += r.Pongs
		h.SkippedHeartbeats += r.Skipped
		h.Reconnects += r.Reconnects
		res.Conns.Opened += r.Dials
		for k, v := range r.Drops {
			h.Drops[k] += v
			res.Errors.ByKind["drop:"+k] += v
			res.Conns.Dropped += v
		}
		for k, v := range r.DialErrors {
			h.DialErrors[k] += v
			res.Errors.ByKind["dial:"+k] += v
			res.Conns.Failed += v
		}
		if !c.done {
			// Whatever it held is gone, and nobody said why: say so.
			h.Drops["child_exit"] += r.Connected
			res.Errors.ByKind["child:exit"]++
		}
		hc := HoldChild{Index: c.index, Target: int64(c.target), Peak: r.Peak, Final: r.HeldAtStop,
			RSSBytes: r.RSSAtStop, BaseRSSBytes: r.BaseRSS, Exit: c.exit}
		if c.cmd != nil && c.cmd.Process != nil {
			hc.PID = c.cmd.Process.Pid
		}
		if hc.RSSBytes == 0 {
			hc.RSSBytes = r.RSS
		}
		if hc.Final > 0 {
			hc.BytesPerConn = float64(hc.RSSBytes-hc.BaseRSSBytes) / float64(hc.Final)
		}
		h.Children = append(h.Children, hc)
	}
	res.Conns.Peak = p.peak
	res.Conns.Reconnects = h.Reconnects
	res.Requests = h.Pongs
	res.Latency = p.hist.Summary()
}

// holdHints explains the usual reasons a hold run goes wrong.
func holdHints(res *Result) []string {
	var hints []string
	h := res.Hold
	if n := h.DialErrors[KindAddrNotAvail]; n > 0 {
		hints = append(hints, fmt.Sprintf("%s dials found no free local port (EADDRNOTAVAIL): each (source, target) pair has the ports of "+
			"/proc/sys/net/ipv4/ip_local_port_range (about 28,000 by default); add source addresses (-src 127.0.0.2-127.0.0.60) or target ports", Num(n)))
	}
	if n := h.DialErrors[KindEMFILE] + h.DialErrors[KindENFILE]; n > 0 {
		hints = append(hints, "dials hit the descriptor limit (EMFILE/ENFILE): lower -per-proc, or raise the limit (ulimit -n, fs.file-max, fs.nr_open)")
	}
	if n := h.DialErrors[KindRefused] + h.DialErrors[KindTimeout]; n > 0 {
		hints = append(hints, "dials were refused or timed out: is the server up, and is its accept backlog (net.core.somaxconn) large enough for -rate? its max_connections?")
	}
	if n := h.Drops["server_closed"] + h.Drops["reset"]; n > 0 {
		hints = append(hints, fmt.Sprintf("the server closed %s held connections: a heartbeat longer than its idle_timeout (60s by default), max_connections per worker, or a restart; see its kick counters", Num(n)))
	}
	if n := h.Drops["pong_timeout"]; n > 0 {
		hints = append(hints, fmt.Sprintf("%s connections got no pong within -timeout: the server (or this machine) is overloaded", Num(n)))
	}
	if n := h.Drops["child_exit"]; n > 0 {
		hints = append(hints, "a child process died: look above for its error (out of memory? killed?)")
	}
	if n := h.Drops["no_memory"]; n > 0 {
		hints = append(hints, "the kernel ran out of socket memory (ENOBUFS/ENOMEM): raise net.ipv4.tcp_mem")
	}
	return hints
}
