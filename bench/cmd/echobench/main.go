// Command echobench runs the echo scenarios of SPEC §8 against every server
// implementation of cmd/echoserver, side by side in one run:
//
//	cd bench && go build -o /tmp/echoserver ./cmd/echoserver &&
//	  taskset -c 1 go run ./cmd/echobench -server /tmp/echoserver
//
// Each server runs pinned to CPU 0 with GOMAXPROCS=1; the load generator
// (this process, to be run pinned to CPU 1) drives it over loopback with
// wharf's reactor engine, the same client for every server. A scenario runs
// in -runs rounds, each round running every server once, so that the
// machine's drift hits all of them alike. For each scenario and server it
// reports the median over the rounds of messages per second and of server
// CPU time per message (utime+stime of the server process from /proc over
// the measured window), the ratio of the medians to the best peer's, and
// the median of the per-round ratios to the best peer and to the raw wharf
// echo (how wharf-packet compares with the engine it runs on). Then, with
// -idle N, it opens N connections to each server and reports its RSS growth
// per connection, and its CPU while the connections trickle 1,000 round
// trips per second one after another (what a server of mostly idle
// connections spends).
//
// With -proto ws the same harness runs the WebSocket echo servers
// (wharf-ws, wharf-ws-adapter, nbio-ws, gorilla-ws, gws) on the WebSocket
// scenarios: every connection does the opening handshake at /ws, then
// keeps one 1 KiB binary message (masked, as a client's must be) in
// flight; a message counts when its whole echo frame is back. The idle
// test holds WebSocket connections after their handshake and one echo:
//
//	cd bench && go build -o /tmp/echoserver ./cmd/echoserver &&
//	  taskset -c 1 go run ./cmd/echobench -server /tmp/echoserver -proto ws -runs 5 -idle 15000
//
// With -tls it compares the TLS servers (wharf-tls: package tlsconn;
// net-tls: crypto/tls on a goroutine per connection, what net/http does;
// nbio-tls: nbio's fork of crypto/tls on its loop) with the same
// certificate (ECDSA P-256, self-signed, made for the run) and TLS 1.3,
// and adds a handshake scenario: -hs-workers goroutines connect, make a
// full handshake (no resumption) and close, in a loop; it reports
// handshakes per second and the server's CPU time per handshake. The
// client is the same for every server: the echo scenarios and the idle
// test run crypto/tls on the load generator's side too (through tlsconn on
// its engine, or on each connection).
//
//	taskset -c 1 go run ./cmd/echobench -server /tmp/echoserver -tls
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"crypto/tls"

	"wharf/engine"
	"wharf/packet"
	"wharf/tlsconn"
)

type scenario struct {
	Name  string
	Conns int
	Size  int
	Depth int // messages in flight per connection
}

var scenarios = []scenario{
	{"100c-64B-pingpong", 100, 64, 1},
	{"100c-64B-pipeline16", 100, 64, 16},
	{"1000c-512B-pingpong", 1000, 512, 1},
}

// wsScenarios are the WebSocket scenarios (-proto ws): 1 KiB binary
// messages, one in flight per connection.
var wsScenarios = []scenario{
	{"ws-100c-1KiB-pingpong", 100, 1024, 1},
	{"ws-1000c-1KiB-pingpong", 1000, 1024, 1},
}

// wsProto is set by -proto ws: the load speaks WebSocket.
var wsProto bool

type result struct {
	Scenario   string  `json:"scenario"`
	Server     string  `json:"server"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	CPUNsMsg   float64 `json:"server_cpu_ns_per_msg"`
	Runs       int     `json:"runs"`
	// Medians over rounds of the rate over, in the same round, the best
	// peer's (VsPeer) and the raw wharf echo's (VsWharf); 0 when there is
	// nothing to compare with.
	VsPeer  float64 `json:"vs_best_peer_per_round,omitempty"`
	VsWharf float64 `json:"vs_wharf_per_round,omitempty"`
	// Median server system calls per message and the calls behind them
	// (-syscalls): per message, by system call, of the median run.
	SyscallsMsg float64            `json:"syscalls_per_msg,omitempty"`
	ByCall      map[string]float64 `json:"syscalls_per_msg_by_call,omitempty"`
}

func main() {
	server := flag.String("server", "/tmp/echoserver", "path to the echoserver binary")
	impls := flag.String("impls", "", "implementations to compare (default wharf,wharf-uring,gnet,netpoll,nbio,net; with -proto ws wharf-ws,wharf-ws-adapter,nbio-ws,gorilla-ws,gws)")
	proto := flag.String("proto", "tcp", "tcp (raw echo) or ws (WebSocket echo)")
	dur := flag.Duration("d", 5*time.Second, "measured duration of each run")
	warm := flag.Duration("warmup", time.Second, "warm-up before each measured run")
	runs := flag.Int("runs", 3, "runs per scenario and server (medians reported)")
	only := flag.String("scenarios", "", "comma-separated scenario names (default all)")
	idle := flag.Int("idle", 15000, "connections for the idle memory and trickle CPU test (0 skips it)")
	cpu := flag.String("server-cpu", "0", "CPU list for the server (taskset -c)")
	jsonOut := flag.String("json", "", "write results as JSON to this file")
	flag.StringVar(&profileDir, "profile", "", "write each server's CPU profile to DIR/IMPL-SCENARIO.prof")
	flag.StringVar(&syscallDir, "syscalls", "", "count the server's system calls in each measured run with `perf trace -s`, keeping the summaries in DIR/IMPL-SCENARIO-rN.txt, and report system calls per message")
	useTLS := flag.Bool("tls", false, "compare the TLS servers (default -impls wharf-tls,net-tls,nbio-tls) and add the handshake scenario")
	hsWorkers := flag.Int("hs-workers", 8, "with -tls, goroutines making handshakes in the handshake scenario")
	flag.BoolVar(&serverStats, "stats", false, "have wharf's servers print their engine counters per message (system calls, tasks, wake-ups) when each run ends")
	flag.Parse()
	scens := scenarios
	switch *proto {
	case "tcp":
		if *impls == "" && *useTLS {
			*impls = "wharf-tls,net-tls,nbio-tls"
		} else if *impls == "" {
			*impls = "wharf,wharf-uring,gnet,netpoll,nbio,net"
		}
	case "ws":
		wsProto, scens = true, wsScenarios
		if *impls == "" {
			*impls = "wharf-ws,wharf-ws-adapter,nbio-ws,gorilla-ws,gws"
		}
	default:
		fmt.Fprintf(os.Stderr, "echobench: -proto %q: want tcp or ws\n", *proto)
		os.Exit(2)
	}
	if *useTLS {
		if wsProto {
			fmt.Fprintln(os.Stderr, "echobench: -tls runs with -proto tcp")
			os.Exit(2)
		}
		if err := setupTLS(); err != nil {
			fmt.Fprintln(os.Stderr, "echobench:", err)
			os.Exit(2)
		}
		defer os.RemoveAll(tlsDir)
		handshakeTable(strings.Split(*impls, ","), *server, *cpu, *hsWorkers, *runs, *warm, *dur)
	}

	var all []result
	names := strings.Split(*impls, ",")
	for _, sc := range scens {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), sc.Name) {
			continue
		}
		// Rounds: run r of every server, then run r+1, so that the
		// machine's drift over minutes hits every server alike, and the
		// per-round ratios compare runs made moments apart.
		rates := make([][]float64, len(names)) // [server][round]; NaN: the run failed
		cpus := make([][]float64, len(names))
		sys := make([][]syscallCount, len(names))
		for r := range *runs {
			for i, impl := range names {
				rate, cpuPer, sc1, err := runOne(*server, *cpu, impl, sc, *warm, *dur, r)
				if err != nil {
					fmt.Fprintf(os.Stderr, "echobench: %s %s: %v\n", sc.Name, impl, err)
					rate, cpuPer = math.NaN(), math.NaN()
				}
				rates[i] = append(rates[i], rate)
				cpus[i] = append(cpus[i], cpuPer)
				if sc1.perMsg > 0 {
					sys[i] = append(sys[i], sc1)
				}
			}
		}
		for i, impl := range names {
			ok := dropNaN(rates[i])
			if len(ok) == 0 {
				continue
			}
			res := result{Scenario: sc.Name, Server: impl, MsgsPerSec: median(ok), CPUNsMsg: median(dropNaN(cpus[i])), Runs: len(ok),
				VsPeer: orZero(median(roundRatios(names, rates, i, bestPeer))), VsWharf: orZero(median(roundRatios(names, rates, i, wharfRaw)))}
			if m, ok := medianSyscalls(sys[i]); ok {
				res.SyscallsMsg, res.ByCall = m.perMsg, m.byCall
			}
			fmt.Fprintf(os.Stderr, "%-22s %-16s %12.0f msg/s %8.0f ns CPU/msg  (runs: %v)\n", sc.Name, impl, res.MsgsPerSec, res.CPUNsMsg, fmtRates(rates[i]))
			all = append(all, res)
		}
	}
	printTable(all)
	if syscallDir != "" {
		printSyscalls(all)
	}
	if *idle > 0 {
		fmt.Println()
		fmt.Printf("Idle memory, %d connections (server RSS growth / connections), and server CPU\n", *idle)
		fmt.Printf("while they trickle %d round trips/s in turn (median of %d runs):\n\n", trickleRate, *runs)
		fmt.Println("| server | RSS before | RSS with conns | per connection | trickle CPU % of a core | CPU µs per round trip |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
		for _, impl := range strings.Split(*impls, ",") {
			var befores, afters, cpus []float64
			for range *runs {
				before, after, cpuPct, err := idleMemory(*server, *cpu, impl, *idle)
				if err != nil {
					fmt.Fprintf(os.Stderr, "echobench: idle %s: %v\n", impl, err)
					continue
				}
				befores, afters, cpus = append(befores, float64(before)), append(afters, float64(after)), append(cpus, cpuPct)
			}
			if len(cpus) == 0 {
				continue
			}
			before, after, cpuPct := median(befores), median(afters), median(cpus)
			fmt.Printf("| %s | %.1f MiB | %.1f MiB | %.2f KiB | %.1f | %.1f |\n", impl, before/(1<<20), after/(1<<20),
				(after-before)/float64(*idle)/1024, cpuPct, cpuPct/100*1e6/trickleRate)
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		os.WriteFile(*jsonOut, b, 0o644)
	}
}

func fmtRates(r []float64) string {
	var s []string
	for _, v := range r {
		s = append(s, strconv.FormatFloat(v/1000, 'f', 0, 64)+"k")
	}
	return strings.Join(s, " ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// bestPeer is, in one round, the highest rate of the servers that are not
// wharf's (NaN when none ran).
func bestPeer(names []string, round []float64) float64 {
	best := math.NaN()
	for i, n := range names {
		if !strings.HasPrefix(n, "wharf") && !math.IsNaN(round[i]) && !(round[i] <= best) {
			best = round[i]
		}
	}
	return best
}

// wharfRaw is, in one round, the rate of the raw engine echo ("wharf"; for
// WebSocket, the native "wharf-ws").
func wharfRaw(names []string, round []float64) float64 {
	base := "wharf"
	if wsProto {
		base = "wharf-ws"
	}
	if i := slices.Index(names, base); i >= 0 {
		return round[i]
	}
	return math.NaN()
}

// roundRatios is server i's rate over base's, round by round, leaving out
// rounds where either is missing.
func roundRatios(names []string, rates [][]float64, i int, base func([]string, []float64) float64) []float64 {
	var out []float64
	round := make([]float64, len(names))
	for r := range rates[i] {
		for j := range names {
			round[j] = rates[j][r]
		}
		if b := base(names, round); b > 0 && !math.IsNaN(round[i]) {
			out = append(out, round[i]/b)
		}
	}
	return out
}

func dropNaN(v []float64) []float64 {
	return slices.DeleteFunc(slices.Clone(v), math.IsNaN)
}

func printTable(all []result) {
	fmt.Println("| scenario | server | msgs/s | server CPU ns/msg | msgs/s vs best peer | CPU/msg vs best peer | per-round vs best peer | per-round vs wharf |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range all {
		bestRate, bestCPU := 0.0, 0.0
		for _, o := range all {
			if o.Scenario != r.Scenario || o.Server == r.Server || strings.HasPrefix(o.Server, "wharf") {
				continue
			}
			bestRate = max(bestRate, o.MsgsPerSec)
			if bestCPU == 0 || o.CPUNsMsg < bestCPU {
				bestCPU = o.CPUNsMsg
			}
		}
		vsRate, vsCPU := 0.0, 0.0 // no other peer: "-"
		if bestRate > 0 {
			vsRate, vsCPU = r.MsgsPerSec/bestRate, r.CPUNsMsg/bestCPU
		}
		fmt.Printf("| %s | %s | %.0f | %.0f | %s | %s | %s | %s |\n", r.Scenario, r.Server, r.MsgsPerSec, r.CPUNsMsg,
			fmtRatio(vsRate), fmtRatio(vsCPU), fmtRatio(r.VsPeer), fmtRatio(r.VsWharf))
	}
}

func orZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func fmtRatio(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

var nextPort atomic.Int32

// profileDir, when set, makes each server write a CPU profile there.
var profileDir string

// serverStats passes -stats to wharf's servers.
var serverStats bool

// Server ports start below Linux's default ephemeral range (32768-60999),
// where the load generator's own connections and everyone else's take
// their local ports.
func init() { nextPort.Store(int32(20000 + os.Getpid()%10000)) }

// startServer starts impl pinned to cpu with GOMAXPROCS=1 and waits until
// it listens, on the next port if one is taken.
func startServer(bin, cpu, impl string, profile string) (*exec.Cmd, string, error) {
	var err error
	for range 5 {
		var cmd *exec.Cmd
		var addr string
		if cmd, addr, err = startServerOn(bin, cpu, impl, profile, fmt.Sprintf("127.0.0.1:%d", nextPort.Add(1))); err == nil {
			return cmd, addr, nil
		}
	}
	return nil, "", err
}

func startServerOn(bin, cpu, impl, profile, addr string) (*exec.Cmd, string, error) {
	args := []string{"-c", cpu, bin, "-impl", impl, "-addr", addr, "-loops", "1"}
	args = append(args, serverArgs...)
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	if serverStats && strings.HasPrefix(impl, "wharf") {
		args = append(args, "-stats")
	}
	cmd := exec.Command("taskset", args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	// Some servers (nbio) log their own start line first: read until ours.
	r := bufio.NewReader(out)
	var line string
	var err error
	for i := 0; i < 20; i++ {
		line, err = r.ReadString('\n')
		if err != nil || strings.Contains(line, "listening") {
			break
		}
	}
	if err != nil || !strings.Contains(line, "listening") {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", fmt.Errorf("server did not start: %q %v", line, err)
	}
	go func() { // drain
		b := make([]byte, 4096)
		for {
			if _, err := r.Read(b); err != nil {
				return
			}
		}
	}()
	return cmd, addr, nil
}

func stopServer(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// cpuTicks reads utime+stime (all threads) of pid in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux

// loader is the client: each connection keeps Depth messages in flight and
// sends one more for every full message echoed back. With ws it first
// sends the WebSocket handshake and waits for the 101 response.
type loader struct {
	engine.BaseHandler
	sc    scenario
	msgs  atomic.Int64
	msg   []byte // what a message is on the wire (a masked frame with ws)
	reply int    // bytes of one echo on the wire
	hello []byte // the WebSocket handshake request, nil for raw TCP
}

type lconn struct {
	partial   int
	upgrading bool // the 101 response has not arrived yet
}

func (l *loader) OnOpen(c engine.Conn) {
	st := &lconn{upgrading: l.hello != nil}
	c.SetContext(st)
	if st.upgrading {
		c.Write(l.hello)
		return
	}
	for range l.sc.Depth {
		c.Write(l.msg)
	}
}

func (l *loader) OnData(c engine.Conn) error {
	st := c.Context().(*lconn)
	if st.upgrading {
		head, _ := c.Peek(-1)
		end := strings.Index(string(head), "\r\n\r\n")
		if end < 0 {
			return nil // the response head is still arriving
		}
		if !strings.HasPrefix(string(head), "HTTP/1.1 101") {
			return fmt.Errorf("handshake refused: %q", head[:min(len(head), 80)])
		}
		c.Discard(end + 4)
		st.upgrading = false
		for range l.sc.Depth {
			c.Write(l.msg)
		}
	}
	n, _ := c.Discard(-1)
	total := st.partial + n
	done := total / l.reply
	st.partial = total % l.reply
	if done > 0 {
		l.msgs.Add(int64(done))
		for range done {
			c.Write(l.msg)
		}
	}
	return nil
}

// wsHello is the client's opening handshake for addr.
func wsHello(addr string) []byte {
	return []byte("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

// wsFrame is payload as one masked binary frame, and the length of the
// server's unmasked echo of it.
func wsFrame(payload []byte) (frame []byte, reply int) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	n := len(payload)
	switch {
	case n <= 125:
		frame = []byte{0x82, 0x80 | byte(n)}
		reply = 2 + n
	case n <= 0xffff:
		frame = []byte{0x82, 0x80 | 126, byte(n >> 8), byte(n)}
		reply = 4 + n
	default:
		panic("wsFrame: payload too large for the benchmark")
	}
	frame = append(frame, key[:]...)
	for i, b := range payload {
		frame = append(frame, b^key[i%4])
	}
	return frame, reply
}

func runOne(bin, cpu, impl string, sc scenario, warm, dur time.Duration, round int) (rate, cpuPerMsg float64, sys syscallCount, err error) {
	prof := ""
	if profileDir != "" {
		prof = fmt.Sprintf("%s/%s-%s.prof", profileDir, impl, sc.Name)
	}
	cmd, addr, err := startServer(bin, cpu, impl, prof)
	if err != nil {
		return 0, 0, sys, err
	}
	defer stopServer(cmd)
	l := &loader{sc: sc, msg: make([]byte, sc.Size), reply: sc.Size}
	for i := range l.msg {
		l.msg[i] = byte('a' + i%26)
	}
	if wsProto {
		l.hello = wsHello(addr)
		l.msg, l.reply = wsFrame(l.msg)
	}
	if strings.HasPrefix(impl, "wharf-packet") {
		// A packet of the same total size: the server echoes it whole.
		l.msg, err = packet.Encode(10, l.msg[:sc.Size-packet.HeaderSize])
		if err != nil {
			return 0, 0, sys, err
		}
	}
	var h engine.Handler = l
	if clientTLS != nil {
		if h, err = tlsconn.NewHandler(tlsconn.Config{TLS: clientTLS, Client: true}, l); err != nil {
			return 0, 0, sys, err
		}
	}
	e, err := engine.New(engine.Config{Loops: 1}, h)
	if err != nil {
		return 0, 0, sys, err
	}
	if err := e.Start(); err != nil {
		return 0, 0, sys, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	}()
	for i := 0; i < sc.Conns; i++ {
		if _, err := e.Dial(context.Background(), "tcp", addr, engine.DialOptions{Timeout: 5 * time.Second}); err != nil {
			return 0, 0, sys, err
		}
	}
	time.Sleep(warm)
	var tracer *syscallTracer
	if syscallDir != "" {
		if tracer, err = traceSyscalls(cmd.Process.Pid, fmt.Sprintf("%s/%s-%s-r%d.txt", syscallDir, impl, sc.Name, round), dur); err != nil {
			return 0, 0, sys, err
		}
	}
	m0, t0 := l.msgs.Load(), time.Now()
	c0, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return 0, 0, sys, err
	}
	if tracer != nil {
		err = tracer.wait() // dur, while attached
	} else {
		time.Sleep(dur)
	}
	m1, t1 := l.msgs.Load(), time.Now()
	c1, _ := cpuTicks(cmd.Process.Pid)
	msgs := float64(m1 - m0)
	if msgs == 0 {
		return 0, 0, sys, fmt.Errorf("no messages echoed")
	}
	rate = msgs / t1.Sub(t0).Seconds()
	cpuNs := float64(c1-c0) * 1e9 / clkTck
	if tracer != nil {
		if err != nil {
			return 0, 0, sys, err
		}
		if sys, err = tracer.count(msgs); err != nil {
			return 0, 0, sys, err
		}
	}
	return rate, cpuNs / msgs, sys, nil
}

// trickleRate is the round trips per second idleMemory sends over its idle
// connections, one connection after another, to measure what a server
// spends when most of its connections are idle most of the time.
const trickleRate = 1000

// idleMemory opens n connections, reports the server's RSS before and after,
// then sends trickleRate round trips per second over them in turn for 5s and
// reports the server's CPU use meanwhile in percent of one core.
func idleMemory(bin, cpu, impl string, n int) (before, after int64, cpuPct float64, err error) {
	cmd, addr, err := startServer(bin, cpu, impl, "")
	if err != nil {
		return 0, 0, 0, err
	}
	defer stopServer(cmd)
	time.Sleep(500 * time.Millisecond)
	before, err = rss(cmd.Process.Pid)
	if err != nil {
		return 0, 0, 0, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("dial %d: %w", i, err)
		}
		if clientTLS != nil {
			tc := tls.Client(c, clientTLS)
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				c.Close()
				return 0, 0, 0, fmt.Errorf("handshake %d: %w", i, err)
			}
			c = tc
		}
		conns = append(conns, c)
		if wsProto {
			// At once: an HTTP server closes connections that send no
			// request for a while (httpd after ReadHeaderTimeout).
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := wsHandshake(c, addr); err != nil {
				return 0, 0, 0, fmt.Errorf("handshake on connection %d: %w", i, err)
			}
		}
	}
	// One round trip on every connection so each server has done its
	// per-connection setup, then let it settle.
	msg := []byte("x")
	reply := len(msg)
	if strings.HasPrefix(impl, "wharf-packet") {
		if msg, err = packet.Encode(10, msg); err != nil {
			return 0, 0, 0, err
		}
		reply = len(msg)
	}
	if wsProto {
		msg, reply = wsFrame(msg)
	}
	buf := make([]byte, reply)
	for i, c := range conns {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(msg)
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, 0, 0, fmt.Errorf("echo on connection %d: %w", i, err)
		}
		c.SetDeadline(time.Time{})
	}
	time.Sleep(3 * time.Second)
	if after, err = rss(cmd.Process.Pid); err != nil {
		return 0, 0, 0, err
	}

	const trickle = 5 * time.Second
	c0, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	tick := time.NewTicker(time.Second / trickleRate)
	defer tick.Stop()
	for i := 0; time.Since(t0) < trickle; i++ {
		<-tick.C
		c := conns[i%len(conns)]
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(msg)
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, 0, 0, fmt.Errorf("trickle on connection %d: %w", i%len(conns), err)
		}
	}
	c1, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return 0, 0, 0, err
	}
	cpuPct = float64(c1-c0) / clkTck / time.Since(t0).Seconds() * 100
	return before, after, cpuPct, nil
}

// wsHandshake sends the opening handshake on c and reads the 101 response
// head (the server sends nothing after it until the client does).
func wsHandshake(c net.Conn, addr string) error {
	if _, err := c.Write(wsHello(addr)); err != nil {
		return err
	}
	var head []byte
	b := make([]byte, 512)
	for !strings.Contains(string(head), "\r\n\r\n") {
		n, err := c.Read(b)
		if err != nil {
			return err
		}
		head = append(head, b[:n]...)
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 101") || !strings.HasSuffix(string(head), "\r\n\r\n") {
		return fmt.Errorf("unexpected response %q", head)
	}
	return nil
}
