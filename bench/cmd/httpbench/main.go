// Command httpbench runs the HTTP plaintext scenarios of SPEC §8 with wrk
// against every implementation of cmd/httpserver, side by side in one run:
//
//	cd bench && go build -o /tmp/httpserver ./cmd/httpserver &&
//	  go run ./cmd/httpbench -server /tmp/httpserver
//
// Each server runs pinned to CPU 0 with GOMAXPROCS=1; wrk runs pinned to
// CPU 1. Scenarios: 50 and 1000 connections one request at a time, and
// 256 connections pipelining 16 requests. Runs go in rounds, each round running
// every server once, so slow spells of a noisy machine hit all servers
// alike. For each it reports the median over -runs rounds of requests/s and
// server CPU time per request, and the median of the per-round ratios the
// targets are about (native vs fasthttp, adapter vs net/http).
//
// With -tls every server serves HTTPS (HTTP/1.1) with the same
// self-signed ECDSA P-256 certificate, made for the run, and wrk requests
// https:// URLs over keep-alive connections (handshakes are made once per
// connection, before the measured window); the default implementations
// add nbio (nbhttp over its fork of crypto/tls), and the ratios compare
// wharf with net/http and nbio:
//
//	go run ./cmd/httpbench -server /tmp/httpserver -tls
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"wharf/tlsconn"
)

type scenario struct {
	name  string
	conns int
	depth int
}

var scenarios = []scenario{{"c50", 50, 1}, {"c1000", 1000, 1}, {"c256-pipeline16", 256, 16}}

func main() {
	server := flag.String("server", "/tmp/httpserver", "httpserver binary")
	impls := flag.String("impls", "wharf-native,fasthttp,wharf-nethttp,nethttp", "implementations")
	dur := flag.Duration("d", 10*time.Second, "wrk duration per run")
	runs := flag.Int("runs", 3, "runs per scenario and implementation")
	useTLS := flag.Bool("tls", false, "serve and request HTTPS; default -impls wharf-native,wharf-nethttp,nethttp,nbio")
	only := flag.String("scenarios", "", "comma-separated scenario names (default all: c50, c1000, c256-pipeline16)")
	flag.StringVar(&profileDir, "profile", "", "write each server's CPU and allocation profiles to DIR/IMPL-SCENARIO.{cpu,alloc}.prof (last round)")
	flag.Parse()
	type pair struct{ a, b, label string }
	pairs := []pair{{"wharf-native", "fasthttp", "native / fasthttp (target >= 1)"}, {"wharf-nethttp", "nethttp", "adapter / net/http (target >= 2)"}}
	if *useTLS {
		explicit := false
		flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "impls" })
		if !explicit {
			*impls = "wharf-native,wharf-nethttp,nethttp,nbio"
		}
		dir, err := os.MkdirTemp("", "httpbench-tls-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpbench:", err)
			os.Exit(2)
		}
		defer os.RemoveAll(dir)
		cert, key, err := tlsconn.WriteSelfSigned(filepath.Join(dir, "tls"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpbench:", err)
			os.Exit(2)
		}
		serverArgs, scheme = []string{"-cert", cert, "-key", key}, "https"
		pairs = []pair{{"wharf-native", "nethttp", "native / net/http (target >= 1)"}, {"wharf-nethttp", "nethttp", "adapter / net/http (target >= 1)"},
			{"wharf-native", "nbio", "native / nbio (target >= 1)"}, {"wharf-nethttp", "nbio", "adapter / nbio"}}
	}
	_, self, _, _ := runtime.Caller(0)
	lua := filepath.Join(filepath.Dir(self), "pipeline.lua")

	type key struct{ sc, impl string }
	list := strings.Split(*impls, ",")
	rates, cpus := map[key]float64{}, map[key]float64{}
	// Pairs whose ratio the targets are about, measured round by round:
	// every round runs each implementation once, so a slow spell of this
	// noisy machine hits both sides of a ratio alike.
	ratios := map[key]float64{} // key{scenario, pair a+"/"+b}
	for _, sc := range scenarios {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), sc.name) {
			continue
		}
		rs, cs := map[string][]float64{}, map[string][]float64{}
		pr := map[string][]float64{}
		for round := range *runs {
			got := map[string]float64{}
			for _, impl := range list {
				r, c, err := runOne(*server, impl, sc, lua, *dur)
				if err != nil {
					fmt.Fprintf(os.Stderr, "httpbench: %s %s round %d: %v\n", sc.name, impl, round+1, err)
					continue
				}
				got[impl] = r
				rs[impl], cs[impl] = append(rs[impl], r), append(cs[impl], c)
			}
			for _, p := range pairs {
				if got[p.a] > 0 && got[p.b] > 0 {
					pr[p.a+"/"+p.b] = append(pr[p.a+"/"+p.b], got[p.a]/got[p.b])
				}
			}
		}
		for _, impl := range list {
			if len(rs[impl]) == 0 {
				continue
			}
			k := key{sc.name, impl}
			rates[k], cpus[k] = median(rs[impl]), median(cs[impl])
			fmt.Fprintf(os.Stderr, "%-16s %-14s %10.0f req/s %6.0f ns CPU/req (runs %.0f)\n", sc.name, impl, rates[k], cpus[k], rs[impl])
		}
		for _, p := range pairs {
			if r := pr[p.a+"/"+p.b]; len(r) > 0 {
				ratios[key{sc.name, p.a + "/" + p.b}] = median(r)
				fmt.Fprintf(os.Stderr, "%-16s %s/%s per round %.2f\n", sc.name, p.a, p.b, r)
			}
		}
	}
	fmt.Println("| scenario | server | requests/s | server CPU ns/req |")
	fmt.Println("| --- | --- | ---: | ---: |")
	for _, sc := range scenarios {
		for _, impl := range list {
			k := key{sc.name, impl}
			if rates[k] > 0 {
				fmt.Printf("| %s | %s | %.0f | %.0f |\n", sc.name, impl, rates[k], cpus[k])
			}
		}
	}
	fmt.Println()
	fmt.Println("Median of the per-round ratios (each round runs every server once):")
	fmt.Println()
	head, rule := "| scenario |", "| --- |"
	for _, p := range pairs {
		head, rule = head+" "+p.label+" |", rule+" ---: |"
	}
	fmt.Println(head)
	fmt.Println(rule)
	for _, sc := range scenarios {
		row := "| " + sc.name + " |"
		for _, p := range pairs {
			cell := "-"
			if r := ratios[key{sc.name, p.a + "/" + p.b}]; r > 0 {
				cell = fmt.Sprintf("%.2f", r)
			}
			row += " " + cell + " |"
		}
		fmt.Println(row)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var port = 8100 + os.Getpid()%1000

// serverArgs are extra flags for every server (-tls: the certificate);
// scheme is what wrk requests.
var (
	serverArgs []string
	scheme     = "http"
)

// profileDir, when set, makes each server write its CPU and allocation
// profiles there.
var profileDir string

var reqRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func runOne(bin, impl string, sc scenario, lua string, dur time.Duration) (rate, cpuPerReq float64, err error) {
	port++
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{"-c", "0", bin, "-impl", impl, "-addr", addr}, serverArgs...)
	if profileDir != "" {
		base := filepath.Join(profileDir, impl+"-"+sc.name)
		args = append(args, "-cpuprofile", base+".cpu.prof", "-memprofile", base+".alloc.prof")
	}
	cmd := exec.Command("taskset", args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	// Some servers (nbio) log their own start line first: read until ours.
	br := bufio.NewReader(out)
	var line string
	for range 20 {
		if line, err = br.ReadString('\n'); err != nil || strings.Contains(line, "listening") {
			break
		}
	}
	if err != nil || !strings.Contains(line, "listening") {
		return 0, 0, fmt.Errorf("server did not start: %q", line)
	}
	go io.Copy(io.Discard, br)
	url := scheme + "://" + addr + "/"
	// Warm up, then measure.
	exec.Command("taskset", "-c", "1", "wrk", "-t1", "-c", strconv.Itoa(sc.conns), "-d1s", url).Run()
	c0 := cpuTicks(cmd.Process.Pid)
	args = []string{"-c", "1", "wrk", "-t1", "-c", strconv.Itoa(sc.conns), "-d", dur.String()}
	if sc.depth > 1 {
		args = append(args, "-s", lua, url, "--", strconv.Itoa(sc.depth))
	} else {
		args = append(args, url)
	}
	res, err := exec.Command("taskset", args...).CombinedOutput()
	c1 := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v: %s", err, res)
	}
	m := reqRate.FindSubmatch(res)
	if m == nil {
		return 0, 0, fmt.Errorf("no rate in wrk output: %s", res)
	}
	if strings.Contains(string(res), "Non-2xx") || strings.Contains(string(res), "Socket errors") {
		return 0, 0, fmt.Errorf("wrk saw errors: %s", res)
	}
	rate, _ = strconv.ParseFloat(string(m[1]), 64)
	total := rate * dur.Seconds()
	return rate, float64(c1-c0) * 1e9 / 100 / total, nil
}

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
