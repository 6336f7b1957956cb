package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"wharf/internal/loadgen"
)

// holdOptions are hold's flags. The parent passes them on to each child,
// with the child's share in -c, -rate and -close-rate and its place in the
// hidden -child-* flags.
type holdOptions struct {
	addrFlag    string
	addrs       []string
	srcFlag     string
	srcs        []netip.Addr
	conns       int
	dur         time.Duration
	rate        float64
	closeRate   float64
	heartbeat   time.Duration
	timeout     time.Duration
	procsFlag   string
	perProc     int
	reconnect   bool
	maxBackoff  time.Duration
	status      time.Duration
	rampTimeout time.Duration
	loops       int
	dialers     int
	json        bool
	maxErrors   int64
	quiet       bool

	childIndex  int // >= 0: this process is child number childIndex
	childOffset int // global index of the child's first connection
}

func (o *holdOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.addrFlag, "addr", "127.0.0.1:7000", "wharfd packet port(s) `HOST:PORT[,HOST:PORT...]`; connections spread over them")
	fs.StringVar(&o.srcFlag, "src", "", "source addresses `IP[-IP|-LASTBYTE][,...]` (e.g. 127.0.0.2-127.0.0.60); default: the kernel's choice")
	fs.IntVar(&o.conns, "c", 1000, "connections to open and hold")
	fs.DurationVar(&o.dur, "d", 10*time.Second, "how long to hold once every connection is up (0: until SIGINT/SIGTERM)")
	fs.Float64Var(&o.rate, "rate", 20000, "new connections per second, over all processes (redials included)")
	fs.Float64Var(&o.closeRate, "close-rate", -1, "closes per second at the end, over all processes (0: all at once; default: -rate)")
	fs.DurationVar(&o.heartbeat, "heartbeat", 30*time.Second, "ping (code 0) every connection this often, spread evenly")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each dial and on each pong (a ping unanswered this long closes the connection: drop pong_timeout)")
	fs.StringVar(&o.procsFlag, "procs", "auto", "child processes: a number, or auto = ceil(-c / -per-proc)")
	fs.IntVar(&o.perProc, "per-proc", 0, "connections per child process (0: RLIMIT_NOFILE hard limit - 1000)")
	fs.BoolVar(&o.reconnect, "reconnect", true, "redial dropped connections, with jittered exponential backoff")
	fs.DurationVar(&o.maxBackoff, "backoff", 5*time.Second, "the longest wait before a redial")
	fs.DurationVar(&o.status, "status", 5*time.Second, "print a status line this often (stderr)")
	fs.DurationVar(&o.rampTimeout, "ramp-timeout", 0, "start the hold phase after this long even if not every connection is up (0: 30s + 3 × -c / -rate)")
	fs.IntVar(&o.loops, "loops", 1, "event loops per child")
	fs.IntVar(&o.dialers, "dialers", 64, "concurrent dials per child")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on stdout (the text summary goes to stderr)")
	fs.Int64Var(&o.maxErrors, "max-errors", 0, "exit with status 1 when drops + failed dials exceed this (-1: never)")
	fs.BoolVar(&o.quiet, "q", false, "no live progress line")
	fs.IntVar(&o.childIndex, "child-index", -1, "internal: run as child process number N")
	fs.IntVar(&o.childOffset, "child-offset", 0, "internal: global index of the child's first connection")
}

func (o *holdOptions) check() error {
	a, err := loadgen.ParseAddrs(o.addrFlag)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	o.addrs = a
	if o.srcs, err = loadgen.ParseSources(o.srcFlag); err != nil {
		return fmt.Errorf("-src: %w", err)
	}
	switch {
	case o.conns < 1:
		return fmt.Errorf("-c must be at least 1")
	case o.dur < 0:
		return fmt.Errorf("-d must not be negative")
	case o.rate <= 0:
		return fmt.Errorf("-rate must be positive")
	case o.heartbeat < 10*time.Millisecond:
		return fmt.Errorf("-heartbeat must be at least 10ms")
	case o.timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	case o.loops < 1:
		return fmt.Errorf("-loops must be at least 1")
	case o.dialers < 1:
		return fmt.Errorf("-dialers must be at least 1")
	case o.perProc < 0:
		return fmt.Errorf("-per-proc must not be negative")
	case o.maxBackoff < 100*time.Millisecond:
		return fmt.Errorf("-backoff must be at least 100ms")
	}
	if o.closeRate < 0 {
		o.closeRate = o.rate
	}
	return nil
}

// target returns the address and source address of global connection i,
// spread as options.target spreads them.
func (o *holdOptions) target(i int) (addr, src string) {
	addr = o.addrs[i%len(o.addrs)]
	if len(o.srcs) > 0 {
		src = o.srcs[(i/len(o.addrs))%len(o.srcs)].String()
	}
	return addr, src
}

// procs returns the number of child processes and the connection budget of
// each.
func (o *holdOptions) procs() (int, int, error) {
	budget := o.perProc
	if budget == 0 {
		_, hard, err := loadgen.RaiseFileLimit()
		if err != nil {
			return 0, 0, err
		}
		budget = int(min(hard, 1<<30)) - 1000
		if budget < 100 {
			return 0, 0, fmt.Errorf("RLIMIT_NOFILE hard limit %d leaves no room for connections", hard)
		}
	}
	if o.procsFlag == "auto" {
		return (o.conns + budget - 1) / budget, budget, nil
	}
	n, err := strconv.Atoi(o.procsFlag)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("-procs must be auto or a positive number, got %q", o.procsFlag)
	}
	n = min(n, o.conns)
	if per := (o.conns + n - 1) / n; per > budget {
		return 0, 0, fmt.Errorf("-procs %d gives %d connections per process, over the budget of %d (-per-proc or the fd limit): use -procs auto", n, per, budget)
	}
	return n, budget, nil
}

// runHold is the hold subcommand: the parent, or a child with -child-index.
func runHold(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &holdOptions{}
	fs := flag.NewFlagSet("wharf-bench hold", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench hold: %v\n", err)
		return exitUsage
	}
	if o.childIndex >= 0 {
		return runHoldChild(ctx, o, os.Stdin, stdout)
	}
	procs, budget, err := o.procs()
	if err != nil {
		fmt.Fprintf(stderr, "wharf-bench hold: %v\n", err)
		return exitUsage
	}
	if _, ok := stderr.(*os.File); !ok {
		// The children's stderr is copied in by goroutines of os/exec
		// while the parent writes status lines: serialise the writes.
		stderr = &lockedWriter{w: stderr}
	}
	p := &holdParent{o: o, fs: fs, procs: procs, budget: budget, stderr: stderr}
	p.progress = loadgen.NewProgress(stderr, int64(o.conns), o.quiet)
	res := p.run(ctx)
	return report(res, o.json, stdout, stderr)
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
	o        *holdOptions
	fs       *flag.FlagSet
	procs    int
	budget   int
	stderr   io.Writer
	progress *loadgen.Progress

	start    time.Time
	children []*holdProc
	hist     *loadgen.Histogram // every pong's latency so far
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

func (p *holdParent) run(ctx context.Context) *loadgen.Result {
	o := p.o
	res := &loadgen.Result{
		Schema:  loadgen.Schema,
		Command: "hold",
		Targets: o.addrs,
		Options: flagValues(p.fs),
		Started: time.Now(),
	}
	hold := &loadgen.Hold{Target: int64(o.conns), Procs: p.procs, Sources: len(o.srcs), HeartbeatS: o.heartbeat.Seconds()}
	res.Hold = hold
	res.Conns.Target = int64(o.conns)
	p.hist = loadgen.NewHistogram()
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
		n := o.conns / p.procs
		if i < o.conns%p.procs {
			n++
		}
		c, err := p.spawn(i, offset, n, events, &readers)
		if err != nil {
			p.progress.Println("wharf-bench hold: starting child %d: %v", i, err)
			res.Hints = append(res.Hints, fmt.Sprintf("child %d could not start: %v", i, err))
			p.stopAll()
			p.wait(events, &readers, 10*time.Second)
			p.fill(res)
			judge(res, o.maxErrors, "a child process could not start")
			res.ExitCode = exitUsage
			return res
		}
		p.children = append(p.children, c)
		offset += n
	}
	p.progress.Println("wharf-bench hold: %s connections to %s from %d processes (up to %s each), %d source addresses, %.0f/s, heartbeat %s",
		loadgen.Num(int64(o.conns)), strings.Join(o.addrs, ","), p.procs, loadgen.Num(int64(p.budget)), len(o.srcs), o.rate, o.heartbeat)

	rampTimeout := o.rampTimeout
	if rampTimeout == 0 {
		rampTimeout = 30*time.Second + time.Duration(3*float64(o.conns)/o.rate*float64(time.Second))
	}
	rampTimer := time.NewTimer(rampTimeout)
	defer rampTimer.Stop()
	var holdEnd <-chan time.Time
	var holdStart time.Time
	statusTick := time.NewTicker(o.status)
	defer statusTick.Stop()
	drawTick := time.NewTicker(time.Second)
	defer drawTick.Stop()
	short := ""
	beginHold := func(why string) {
		if !holdStart.IsZero() {
			return
		}
		holdStart = time.Now()
		p.progress.Println("wharf-bench hold: %s; holding for %s", why, durOrForever(o.dur))
		if o.dur > 0 {
			holdEnd = time.After(o.dur)
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
				beginHold(fmt.Sprintf("all %s connections up", loadgen.Num(int64(o.conns))))
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
	p.progress.Println("wharf-bench hold: closing %s connections", loadgen.Num(p.connected()))
	p.stopAll()
	closeTime := time.Duration(0)
	if o.closeRate > 0 {
		closeTime = time.Duration(float64(o.conns) / o.closeRate * float64(time.Second))
	}
	p.wait(events, &readers, closeTime+o.timeout+20*time.Second)
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
		short = fmt.Sprintf("held %s of %s connections at the end", loadgen.Num(hold.Final), loadgen.Num(hold.Target))
	}
	res.ElapsedS = time.Since(p.start).Seconds()
	if hold.HeldS > 0 {
		res.RequestsPerS = float64(res.Requests) / res.ElapsedS
	}
	res.Hints = append(res.Hints, holdHints(res)...)
	judge(res, o.maxErrors, short)
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
	share := func(r float64) string { return strconv.FormatFloat(r*float64(n)/float64(o.conns), 'f', -1, 64) }
	args := []string{"hold",
		"-child-index", strconv.Itoa(i), "-child-offset", strconv.Itoa(offset),
		"-c", strconv.Itoa(n),
		"-addr", o.addrFlag, "-src", o.srcFlag,
		"-rate", share(o.rate), "-close-rate", share(o.closeRate),
		"-heartbeat", o.heartbeat.String(), "-timeout", o.timeout.String(),
		"-reconnect=" + strconv.FormatBool(o.reconnect), "-backoff", o.maxBackoff.String(),
		"-loops", strconv.Itoa(o.loops), "-dialers", strconv.Itoa(o.dialers),
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	if os.Getenv("GOMAXPROCS") == "" {
		// A child needs little CPU; fewer Ps cost less memory and fewer threads.
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(max(1, (runtime.NumCPU()+p.procs-1)/p.procs)))
	}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = holdChildAttr()
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
	tick := time.NewTicker(p.o.status)
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
		p99 = loadgen.US(s.P99)
	}
	return fmt.Sprintf("hold %5.0fs %-7s held %s/%s (peak %s)  connecting %s  pongs %s p99 %s  drops %s  reconnects %s  dial errors %s  rss %s",
		time.Since(p.start).Seconds(), phase, loadgen.Num(p.connected()), loadgen.Num(int64(p.o.conns)), loadgen.Num(p.peak),
		loadgen.Num(connecting), loadgen.Num(pongs), p99, sumKinds(drops), loadgen.Num(recon), sumKinds(dialErrs), loadgen.Bytes(rss))
}

// sumKinds is "0", or the total and its parts: "3 (reset 2, pong_timeout 1)".
func sumKinds(m map[string]int64) string {
	var t int64
	var parts []string
	for _, k := range loadgen.SortedKeys(m) {
		t += m[k]
		parts = append(parts, k+" "+loadgen.Num(m[k]))
	}
	if t == 0 {
		return "0"
	}
	return loadgen.Num(t) + " (" + strings.Join(parts, ", ") + ")"
}

// fill writes the children's final numbers into res.
func (p *holdParent) fill(res *loadgen.Result) {
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
		hc := loadgen.HoldChild{Index: c.index, Target: int64(c.target), Peak: r.Peak, Final: r.HeldAtStop,
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
func holdHints(res *loadgen.Result) []string {
	var hints []string
	h := res.Hold
	if n := h.DialErrors[loadgen.KindAddrNotAvail]; n > 0 {
		hints = append(hints, fmt.Sprintf("%s dials found no free local port (EADDRNOTAVAIL): each (source, target) pair has the ports of "+
			"/proc/sys/net/ipv4/ip_local_port_range (about 28,000 by default); add source addresses (-src 127.0.0.2-127.0.0.60) or target ports", loadgen.Num(n)))
	}
	if n := h.DialErrors[loadgen.KindEMFILE] + h.DialErrors[loadgen.KindENFILE]; n > 0 {
		hints = append(hints, "dials hit the descriptor limit (EMFILE/ENFILE): lower -per-proc, or raise the limit (ulimit -n, fs.file-max, fs.nr_open)")
	}
	if n := h.DialErrors[loadgen.KindRefused] + h.DialErrors[loadgen.KindTimeout]; n > 0 {
		hints = append(hints, "dials were refused or timed out: is the server up, and is its accept backlog (net.core.somaxconn) large enough for -rate? its max_connections?")
	}
	if n := h.Drops["server_closed"] + h.Drops["reset"]; n > 0 {
		hints = append(hints, fmt.Sprintf("the server closed %s held connections: a heartbeat longer than its idle_timeout (60s by default), max_connections per worker, or a restart; see its kick counters", loadgen.Num(n)))
	}
	if n := h.Drops["pong_timeout"]; n > 0 {
		hints = append(hints, fmt.Sprintf("%s connections got no pong within -timeout: the server (or this machine) is overloaded", loadgen.Num(n)))
	}
	if n := h.Drops["child_exit"]; n > 0 {
		hints = append(hints, "a child process died: look above for its error (out of memory? killed?)")
	}
	if n := h.Drops["no_memory"]; n > 0 {
		hints = append(hints, "the kernel ran out of socket memory (ENOBUFS/ENOMEM): raise net.ipv4.tcp_mem")
	}
	return hints
}
