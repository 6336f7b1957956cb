package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"wharf/internal/testkit"
)

// TestOps: every control op goes over the wire by name and comes back;
// a name from another version is opUnknown, not an error that would end
// the channel.
func TestOps(t *testing.T) {
	for o := opUnknown + 1; o < numOps; o++ {
		b, err := json.Marshal(message{Op: o})
		if err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil || m.Op != o {
			t.Errorf("%s round trip = %v, %v (wire %s)", o, m.Op, err, b)
		}
		if !strings.Contains(string(b), `"op":"`+o.String()+`"`) {
			t.Errorf("%v on the wire: %s", o, b)
		}
	}
	var m message
	if err := json.Unmarshal([]byte(`{"op":"teleport","id":3}`), &m); err != nil || m.Op != opUnknown || m.ID != 3 {
		t.Errorf("unknown op: %+v, %v", m, err)
	}
	if _, err := json.Marshal(message{}); err == nil {
		t.Error("a message without an op was sent")
	}
}

func TestAddrParse(t *testing.T) {
	tests := []struct {
		in, network, address string
		bad                  bool
	}{
		{"tcp://:7000", "tcp", ":7000", false},
		{"udp4://127.0.0.1:7001", "udp4", "127.0.0.1:7001", false},
		{"unix:///run/w.sock", "unix", "/run/w.sock", false},
		{"127.0.0.1:80", "tcp", "127.0.0.1:80", false},
		{"tls://:8443", "tcp", ":8443", false},
		{"kcp://:7001", "udp", ":7001", false},
		{"http://x", "", "", true},
		{"ws://x/ws", "", "", true},
		{"tcp://:7000/x", "", "", true},
		{"tcp://", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		n, a, err := Addr(tt.in).parse()
		if (err != nil) != tt.bad || n != tt.network || a != tt.address {
			t.Errorf("parse(%q) = %q %q %v", tt.in, n, a, err)
		}
	}
}

func TestPidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "w.pid")
	if err := writePidFile(path); err != nil {
		t.Fatal(err)
	}
	if pid, err := ReadPid(path); err != nil || pid != os.Getpid() {
		t.Fatalf("ReadPid = %d, %v", pid, err)
	}
	// A live process running this program holds it: refuse.
	os.WriteFile(path, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644)
	if !sameProgramAlive(os.Getppid()) {
		// The parent is `go test`, a different program: the file is stale.
		if err := writePidFile(path); err != nil {
			t.Fatalf("stale pid file (another program's pid) not replaced: %v", err)
		}
	}
	// A dead pid is stale.
	os.WriteFile(path, []byte("999999999\n"), 0o644)
	if err := writePidFile(path); err != nil {
		t.Fatalf("stale pid file not replaced: %v", err)
	}
	removePidFile(path)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("pid file not removed")
	}
	if _, err := Signal(path, "reload"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal without a pid file = %v, want ErrNotRunning", err)
	}
	if _, err := Signal(path, "bogus"); err == nil {
		t.Fatal("unknown signal name accepted")
	}
}

// testApp is an in-process App that echoes on its TCP listener.
type testApp struct {
	ln      net.Listener
	wg      sync.WaitGroup
	conns   atomic.Int64
	drained atomic.Bool
	reopens atomic.Int32
}

func newTestApp(env *Env) (App, error) {
	a := &testApp{}
	ln, err := env.Listener(string(testAddr(env)))
	if err != nil {
		return nil, err
	}
	a.ln = ln
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.conns.Add(1)
			a.wg.Add(1)
			go func() { defer a.wg.Done(); io.Copy(c, c); c.Close() }()
		}
	}()
	return a, nil
}

func testAddr(env *Env) Addr {
	for a := range env.sockets {
		return a
	}
	return ""
}

func (a *testApp) Drain(ctx context.Context) error { a.drained.Store(true); a.ln.Close(); return nil }
func (a *testApp) Stop(ctx context.Context) error  { a.ln.Close(); return nil }
func (a *testApp) Reopen() error                   { a.reopens.Add(1); return nil }
func (a *testApp) Stats() Stats                    { return &connStats{Conns: a.conns.Load(), Workers: 1} }

// connStats are the Stats of the test Apps.
type connStats struct {
	Conns   int64 `json:"conns"`
	Workers int   `json:"workers"`
}

func (s *connStats) Add(o Stats) {
	c := o.(*connStats)
	s.Conns += c.Conns
	s.Workers += c.Workers
}

// TestInProcessMaster drives Run with processes = 0: serving, a reload that
// keeps the socket, a rejected reload, reopen, totals, and a graceful stop.
func TestInProcessMaster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var loads atomic.Int32
	var broken atomic.Bool
	load := func() (Spec, error) {
		loads.Add(1)
		if broken.Load() {
			return Spec{}, errors.New("config: line 3: bad value")
		}
		return Spec{Listen: []Addr{Addr("tcp://" + addr)}, DrainTimeout: time.Second}, nil
	}
	var apps []*testApp
	var hubs []*Hub
	var mu sync.Mutex
	newApp := func(env *Env) (App, error) {
		a, err := newTestApp(env)
		if err == nil {
			mu.Lock()
			apps = append(apps, a.(*testApp))
			hubs = append(hubs, env.Hub)
			mu.Unlock()
		}
		return a, err
	}
	sigs := make(chan os.Signal, 4)
	ready := make(chan struct{})
	done := make(chan error, 1)
	pid := filepath.Join(t.TempDir(), "m.pid")
	go func() {
		done <- Run(Config{Load: load, NewApp: newApp, PidFile: pid, Signals: sigs,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
	}()
	<-ready
	echo := func() {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("hi"))
		b := make([]byte, 2)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
	}
	echo()
	if p, _ := ReadPid(pid); p != os.Getpid() {
		t.Fatal("pid file does not name the master")
	}

	sigs <- syscall.SIGHUP
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(apps) == 2 && apps[0].drained.Load() })
	echo() // the new generation serves on the same socket

	broken.Store(true)
	sigs <- syscall.SIGHUP
	waitFor(t, func() bool { return loads.Load() == 3 })
	echo() // rejected: still serving
	mu.Lock()
	n := len(apps)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("%d generations after a rejected reload, want 2", n)
	}

	sigs <- sigReopen
	waitFor(t, func() bool { return apps[1].reopens.Load() == 1 })

	// The hub sums the live generation's Stats: one worker, and the
	// connections it served.
	var sum connStats
	mu.Lock()
	hub := hubs[1]
	mu.Unlock()
	if err := hub.Totals(context.Background(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Workers != 1 || sum.Conns != apps[1].conns.Load() || sum.Conns == 0 {
		t.Fatalf("totals = %+v, want 1 worker and its %d connections", sum, apps[1].conns.Load())
	}

	sigs <- syscall.SIGQUIT
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !apps[1].drained.Load() {
		t.Fatal("QUIT did not drain")
	}
	if _, err := os.Stat(pid); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("pid file left behind")
	}
	for _, a := range apps {
		a.wg.Wait()
	}
}

func waitFor(t *testing.T, cond func() bool) { testkit.Eventually(t, "the condition", cond) }

func TestWorkerProcs(t *testing.T) {
	for _, tt := range []struct{ cpus, workers, want int }{
		{2, 1, 2}, {2, 2, 1}, {2, 53, 1}, {8, 3, 2}, {16, 4, 4}, {1, 4, 1}, {4, 0, 4},
	} {
		if got := workerProcs(tt.cpus, tt.workers); got != tt.want {
			t.Errorf("workerProcs(%d cores, %d workers) = %d, want %d", tt.cpus, tt.workers, got, tt.want)
		}
	}
}
