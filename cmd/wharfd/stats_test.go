//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"wharf/web"
)

// TestStatsSummedOverWorkers: with two worker processes, /api/stats and
// /metrics (served by either worker) show the sum over both: the workers,
// the packet connections, which are spread over them, and every
// transport's engine. In one process (processes = 0) they show its own.
func TestStatsSummedOverWorkers(t *testing.T) {
	for _, tt := range []struct {
		name      string
		processes int
		workers   int
	}{
		{name: "in process", processes: 0, workers: 1},
		{name: "two workers", processes: 2, workers: 2},
	} {
		t.Run(tt.name, func(t *testing.T) { testStatsSummed(t, tt.processes, tt.workers) })
	}
}

func testStatsSummed(t *testing.T, processes, workers int) {
	dir := t.TempDir()
	port, httpPort, kcpPort, adminPort := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "wharf.toml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `pid_file = %q
drain_timeout = "2s"
processes = %d
[server]
listen = ["tcp://127.0.0.1:%d"]
stats_interval = "0s"
[http]
listen = ["tcp://127.0.0.1:%d"]
[admin]
listen = ["tcp://127.0.0.1:%d"]
[kcp]
listen = ["udp://127.0.0.1:%d"]
`, filepath.Join(dir, "wharfd.pid"), processes, port, httpPort, adminPort, kcpPort), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := startWharfd(t, dir, "-c", cfg)
	d.waitWorkers(processes, 10*time.Second)

	const conns = 12
	for range conns {
		dialPinged(t, port)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", adminPort) // the statistics are on the admin listener
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, b)
		}
		return b
	}
	// A browser keeps a connection to the public listener open; its HTTP
	// server's stats are part of the totals.
	pub, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// Worker processes report every second: wait for every report.
	var st web.Stats
	deadline := time.Now().Add(15 * time.Second)
	for {
		st = web.Stats{}
		if err := json.Unmarshal(get("/api/stats"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Workers == workers && st.Server.Online >= conns && st.HTTP != nil && st.HTTP.Engine.Open >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never counted %d workers and %d connections: %+v", workers, conns, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tcp, kcp := st.Server.Transports["tcp"], st.Server.Transports["kcp"]
	if tcp.Loops < workers || tcp.Open < conns || kcp.Loops < workers {
		t.Errorf("transports not summed over %d workers: tcp %+v, kcp %+v", workers, tcp, kcp)
	}
	if st.HTTP == nil || st.HTTP.Engine.Loops < workers || st.HTTP.Engine.Open < 1 {
		t.Errorf("HTTP server stats missing or not summed: %+v", st.HTTP)
	}
	if st.Chat == nil {
		t.Error("no chat section in the stats")
	}
	if got := st.Server.MaxConnections; got != workers*65536 {
		t.Errorf("max_connections = %d, want %d workers' 65536", got, workers)
	}

	metrics := string(get("/metrics"))
	for _, want := range []string{
		fmt.Sprintf("\nwharf_workers %d\n", workers),
		`wharf_engine_connections{transport="tcp"}`,
		`wharf_engine_connections{transport="kcp"}`,
		`wharf_engine_connections{transport="http"}`,
		`wharf_httpd_requests_total`,
		`wharf_chat_refused_total{limit="say_user"} 0`,
		"wharf_handler_latency_seconds_bucket",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	d.signal(syscall.SIGTERM)
	d.wait(15 * time.Second)
}
