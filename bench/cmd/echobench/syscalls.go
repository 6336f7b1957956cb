package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Counting a server's system calls per message (-syscalls DIR).
//
// perf trace -s attaches to the server for the measured window and, when it
// ends, writes a per-thread summary of the calls it saw; the calls are
// summed over threads and divided by the messages echoed meanwhile. perf
// trace reads the raw_syscalls tracepoints through a ring buffer, which
// costs the server far less than strace's ptrace stops (strace -c slows a
// loop enough to change how many messages each call batches), but it does
// cost something: read the rates of a -syscalls run as approximate and take
// msgs/s from a run without it. Messages are counted from perf's start to
// its exit; calls made while it attaches (a few milliseconds of a run of
// seconds) are missed.
//
// The same breakdown by hand, for a server started with echoserver:
//
//	perf trace -s -p $(pgrep -f 'echoserver -impl wharf-uring') -- sleep 5
//	strace -c -f -p PID   # slower, but names every call the same way

var syscallDir string

type syscallTracer struct {
	cmd  *exec.Cmd
	file string
}

// traceSyscalls attaches perf trace to pid for d, summary to file.
func traceSyscalls(pid int, file string, d time.Duration) (*syscallTracer, error) {
	if err := os.MkdirAll(syscallDir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command("perf", "trace", "-s", "-p", strconv.Itoa(pid), "-o", file, "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf trace: %w", err)
	}
	return &syscallTracer{cmd: cmd, file: file}, nil
}

func (t *syscallTracer) wait() error {
	if err := t.cmd.Wait(); err != nil {
		return fmt.Errorf("perf trace: %w", err)
	}
	return nil
}

// syscallCount is one run's system calls per message, total and by call.
type syscallCount struct {
	perMsg float64
	byCall map[string]float64
}

// count reads the summary: lines "name calls errors total min avg max
// stddev" under each thread's header.
func (t *syscallTracer) count(msgs float64) (syscallCount, error) {
	f, err := os.Open(t.file)
	if err != nil {
		return syscallCount{}, err
	}
	defer f.Close()
	sc := syscallCount{byCall: map[string]float64{}}
	total := 0.0
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 8 || fs[0] == "syscall" {
			continue
		}
		n, err := strconv.ParseFloat(fs[1], 64)
		if err != nil {
			continue
		}
		sc.byCall[fs[0]] += n / msgs
		total += n
	}
	if total == 0 {
		return sc, fmt.Errorf("perf trace counted no system calls (%s)", t.file)
	}
	sc.perMsg = total / msgs
	return sc, s.Err()
}

// medianSyscalls is the run with the median calls per message.
func medianSyscalls(runs []syscallCount) (syscallCount, bool) {
	if len(runs) == 0 {
		return syscallCount{}, false
	}
	s := slices.Clone(runs)
	sort.Slice(s, func(i, j int) bool { return s[i].perMsg < s[j].perMsg })
	return s[len(s)/2], true
}

func printSyscalls(all []result) {
	fmt.Println()
	fmt.Printf("Server system calls per message (perf trace -s, median run; summaries in %s):\n\n", syscallDir)
	fmt.Println("| scenario | server | calls/msg | the main ones, per message |")
	fmt.Println("| --- | --- | ---: | --- |")
	for _, r := range all {
		if r.SyscallsMsg == 0 {
			continue
		}
		type kv struct {
			k string
			v float64
		}
		var calls []kv
		for k, v := range r.ByCall {
			calls = append(calls, kv{k, v})
		}
		sort.Slice(calls, func(i, j int) bool { return calls[i].v > calls[j].v })
		var parts []string
		for _, c := range calls[:min(len(calls), 5)] {
			parts = append(parts, fmt.Sprintf("%s %.3f", c.k, c.v))
		}
		fmt.Printf("| %s | %s | %.3f | %s |\n", r.Scenario, r.Server, r.SyscallsMsg, strings.Join(parts, ", "))
	}
}
