package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"wharf/internal/loadgen"
)

// options are the flags every load subcommand (echo, packet, http, kcp)
// shares. They are set by flag parsing and read-only afterwards.
type options struct {
	cmd       string
	addrFlag  string
	addrs     []string // parsed -addr
	conns     int
	dur       time.Duration
	n         int64
	rate      float64
	size      int
	json      bool
	maxErrors int64
	timeout   time.Duration
	loops     int
	srcFlag   string
	srcs      []netip.Addr // parsed -src; empty: the kernel chooses
	quiet     bool
}

// commonFlags registers the shared flags on fs. defAddr is the subcommand's
// default target; withSize says whether -s means anything to it.
func (o *options) commonFlags(fs *flag.FlagSet, defAddr string, withSize bool, defSize int) {
	if defAddr != "" {
		fs.StringVar(&o.addrFlag, "addr", defAddr, "target `HOST:PORT[,HOST:PORT...]`; connection i goes to address i mod count")
	}
	fs.IntVar(&o.conns, "c", 50, "connections")
	fs.DurationVar(&o.dur, "d", 10*time.Second, "measured duration, after the connections are set up (0: until -n or interrupted)")
	fs.Int64Var(&o.n, "n", 0, "stop after this many requests (0: no limit)")
	fs.Float64Var(&o.rate, "rate", 0, "requests per second over all connections, paced per connection (0: as fast as replies come)")
	if withSize {
		fs.IntVar(&o.size, "s", defSize, "message size in bytes")
	}
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on stdout (the text summary goes to stderr)")
	fs.Int64Var(&o.maxErrors, "max-errors", 0, "exit with status 1 when more errors than this occur (-1: never)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each dial and on each reply")
	fs.StringVar(&o.srcFlag, "src", "", "source addresses to spread connections over: `IP[-IP|-LASTBYTE][,...]` (default: the kernel's choice)")
	fs.BoolVar(&o.quiet, "q", false, "no live progress line")
}

// check validates the shared flags after parsing.
func (o *options) check() error {
	if o.addrFlag != "" {
		a, err := loadgen.ParseAddrs(o.addrFlag)
		if err != nil {
			return fmt.Errorf("-addr: %w", err)
		}
		o.addrs = a
	}
	s, err := loadgen.ParseSources(o.srcFlag)
	if err != nil {
		return fmt.Errorf("-src: %w", err)
	}
	o.srcs = s
	switch {
	case o.conns < 1:
		return fmt.Errorf("-c must be at least 1, got %d", o.conns)
	case o.dur < 0:
		return fmt.Errorf("-d must not be negative")
	case o.n < 0:
		return fmt.Errorf("-n must not be negative")
	case o.rate < 0:
		return fmt.Errorf("-rate must not be negative")
	case o.size < 0:
		return fmt.Errorf("-s must not be negative")
	case o.timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	case o.loops < 0:
		return fmt.Errorf("-loops must not be negative")
	}
	if o.loops == 0 {
		o.loops = runtime.GOMAXPROCS(0)
	}
	return nil
}

// target returns the address and source address of connection i: targets
// in turn, and each target's connections spread over the sources, so that
// every (source, target) pair gets its share of the ephemeral ports.
func (o *options) target(i int) (addr, src string) {
	addr = o.addrs[i%len(o.addrs)]
	if len(o.srcs) > 0 {
		src = o.srcs[(i/len(o.addrs))%len(o.srcs)].String()
	}
	return addr, src
}

// interval is the pacing of one connection under -rate: the time between
// two of its sends, in nanoseconds; 0 without -rate.
func (o *options) interval() int64 {
	if o.rate == 0 {
		return 0
	}
	return max(int64(float64(o.conns)/o.rate*1e9), 1)
}

// bench is one load subcommand's run, driven by runBench.
type bench interface {
	// flags registers the subcommand's own flags on fs.
	flags(fs *flag.FlagSet)
	// setup validates those flags; it runs after options.check.
	setup() error
	// start opens the connections and returns when they are set up (dialed,
	// and logged in where that applies), or ctx ends. An error means the
	// run could not start at all.
	start(ctx context.Context) error
	// count returns the exchanges completed so far. Any goroutine.
	count() int64
	// done is closed when the run need not or cannot go on: -n reached, or
	// no connection left.
	done() <-chan struct{}
	// describe is the text of the live line. Any goroutine.
	describe() string
	// halt stops issuing new requests.
	halt()
	// finish waits (boundedly) for requests in flight, closes everything
	// and fills res: Conns, Requests, Latency, Errors.ByKind and the
	// subcommand's own parts. It must leave no goroutine behind.
	finish(res *loadgen.Result)
}

// runBench parses flags, runs b and reports. It returns the exit status.
func runBench(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, newBench func(*options) bench) int {
	o := &options{cmd: cmd}
	b := newBench(o)
	fs := flag.NewFlagSet("wharf-bench "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	b.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wharf-bench %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
		return exitUsage
	}
	if err := b.setup(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
		return exitUsage
	}
	if _, _, err := loadgen.RaiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
	}

	res := &loadgen.Result{
		Schema:  loadgen.Schema,
		Command: cmd,
		Targets: o.addrs,
		Options: flagValues(fs),
		Started: time.Now(),
	}
	total := o.n
	if total == 0 {
		total = o.dur.Milliseconds()
	}
	prog := loadgen.NewProgress(stderr, total, o.quiet)
	t0 := time.Now()
	if prog.Drawing() {
		prog.Update(0, "connecting")
	}
	if err := b.start(ctx); err != nil {
		prog.Finish()
		b.halt()
		b.finish(res)
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
		return exitUsage
	}
	res.SetupS = time.Since(t0).Seconds()

	w0, c0 := time.Now(), b.count()
	var deadline <-chan time.Time
	if o.dur > 0 {
		t := time.NewTimer(o.dur)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case <-b.done():
			break loop
		case <-tick.C:
			if prog.Drawing() {
				done := b.count()
				if o.n == 0 {
					done = time.Since(w0).Milliseconds()
				}
				prog.Update(done, b.describe())
			}
		}
	}
	b.halt()
	window, c1 := time.Since(w0), b.count()
	prog.Finish()
	b.finish(res)
	res.ElapsedS = window.Seconds()
	if window > 0 {
		res.RequestsPerS = float64(c1-c0) / window.Seconds()
	}
	if res.Pushes != nil && window > 0 {
		res.Pushes.PerS = float64(res.Pushes.Count) / window.Seconds()
	}
	judge(res, o.maxErrors, "")
	return report(res, o.json, stdout, stderr)
}

// judge totals res's errors and decides OK and the exit status. A run fails
// when errors exceed maxErrors (unless it is -1), when nothing at all
// completed, or when short is not empty (a reason of the subcommand's own).
func judge(res *loadgen.Result, maxErrors int64, short string) {
	res.Errors.Total = 0
	for _, v := range res.Errors.ByKind {
		res.Errors.Total += v
	}
	if res.Errors.ByKind == nil {
		res.Errors.ByKind = map[string]int64{}
	}
	res.Errors.MaxAllowed = maxErrors
	res.OK = true
	if maxErrors >= 0 && res.Errors.Total > maxErrors {
		res.OK = false
	}
	if res.Requests == 0 && res.Hold == nil {
		res.OK = false
		res.Hints = append(res.Hints, "no request completed")
	}
	if short != "" {
		res.OK = false
		res.Hints = append(res.Hints, short)
	}
	res.ExitCode = exitOK
	if !res.OK {
		res.ExitCode = exitFailed
	}
}

// report prints res: JSON on stdout with -json (and the text on stderr),
// the text on stdout otherwise. It returns res.ExitCode.
func report(res *loadgen.Result, asJSON bool, stdout, stderr io.Writer) int {
	if asJSON {
		res.WriteText(stderr)
		if err := res.WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "wharf-bench: %v\n", err)
			return exitUsage
		}
	} else {
		res.WriteText(stdout)
	}
	return res.ExitCode
}

// flagValues returns every flag of fs with its value, for Result.Options.
func flagValues(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "child") {
			m[f.Name] = f.Value.String()
		}
	})
	return m
}
