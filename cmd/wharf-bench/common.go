package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"wharf/internal/loadgen"
)

// runBench parses flags, runs the Bench newBench makes and reports. It
// returns the exit status.
func runBench(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, newBench func(*loadgen.Options) loadgen.Bench) int {
	o := &loadgen.Options{Cmd: cmd}
	b := newBench(o)
	fs, code, ok := parseFlags(cmd, args, stderr, b.Flags)
	if !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wharf-bench %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage
	}
	if err := o.Check(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
		return exitUsage
	}
	if err := b.Setup(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
		return exitUsage
	}
	if _, _, err := loadgen.RaiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
	}

	res := &loadgen.Result{
		Schema:  loadgen.Schema,
		Command: cmd,
		Targets: o.Addrs,
		Options: loadgen.FlagValues(fs),
		Started: time.Now(),
	}
	total := o.N
	if total == 0 {
		total = o.Dur.Milliseconds()
	}
	prog := loadgen.NewProgress(stderr, total, o.Quiet)
	t0 := time.Now()
	if prog.Drawing() {
		prog.Update(0, "connecting")
	}
	if err := b.Start(ctx); err != nil {
		prog.Finish()
		b.Halt()
		b.Finish(res)
		fmt.Fprintf(stderr, "wharf-bench %s: %v\n", cmd, err)
		return exitUsage
	}
	res.SetupS = time.Since(t0).Seconds()

	w0, c0 := time.Now(), b.Count()
	var deadline <-chan time.Time
	if o.Dur > 0 {
		t := time.NewTimer(o.Dur)
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
		case <-b.Done():
			break loop
		case <-tick.C:
			if prog.Drawing() {
				done := b.Count()
				if o.N == 0 {
					done = time.Since(w0).Milliseconds()
				}
				prog.Update(done, b.Describe())
			}
		}
	}
	b.Halt()
	window, c1 := time.Since(w0), b.Count()
	prog.Finish()
	b.Finish(res)
	res.ElapsedS = window.Seconds()
	if window > 0 {
		res.RequestsPerS = float64(c1-c0) / window.Seconds()
	}
	if res.Pushes != nil && window > 0 {
		res.Pushes.PerS = float64(res.Pushes.Count) / window.Seconds()
	}
	res.Judge(o.MaxErrors, "")
	return report(res, o.JSON, stdout, stderr)
}

// runHold is the hold subcommand: the parent, or a child with
// -child-index (see loadgen.HoldConfig).
func runHold(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &loadgen.HoldConfig{Command: []string{"hold"}, Dial: loadgen.DialTCP}
	fs, code, ok := parseFlags("hold", args, stderr, c.Flags)
	if !ok {
		return code
	}
	if err := c.Check(); err != nil {
		fmt.Fprintf(stderr, "wharf-bench hold: %v\n", err)
		return exitUsage
	}
	if c.IsChild() {
		return loadgen.RunHoldChild(ctx, c, os.Stdin, stdout)
	}
	res, err := loadgen.RunHold(ctx, c, loadgen.FlagValues(fs), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wharf-bench hold: %v\n", err)
		return exitUsage
	}
	return report(res, c.JSON, stdout, stderr)
}

// parseFlags registers subcommand cmd's flags with register and parses
// args. When ok is false the caller returns code: exitOK for -h, exitUsage
// for a bad flag (the flag package has said why on stderr).
func parseFlags(cmd string, args []string, stderr io.Writer, register func(*flag.FlagSet)) (fs *flag.FlagSet, code int, ok bool) {
	fs = flag.NewFlagSet("wharf-bench "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK, false
		}
		return nil, exitUsage, false
	}
	return fs, 0, true
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
