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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestSumJSON(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"numbers", []string{`{"a":1,"b":2.5}`, `{"a":2,"b":0.25}`}, `{"a":3,"b":2.75}`},
		{"nested and missing keys", []string{`{"k":{"x":1}}`, `{"k":{"x":2,"y":3},"z":4}`}, `{"k":{"x":3,"y":3},"z":4}`},
		{"arrays element-wise", []string{`{"h":[1,2,3]}`, `{"h":[10,20,30,40]}`}, `{"h":[11,22,33,40]}`},
		{"strings keep the first", []string{`{"s":"a","n":1}`, `{"s":"b","n":1}`}, `{"n":2,"s":"a"}`},
		{"big integers stay exact", []string{`{"n":9007199254740993}`, `{"n":1}`}, `{"n":9007199254740994}`},
		{"a bad part is skipped", []string{`{"n":1}`, `not json`, `{"n":2}`}, `{"n":3}`},
		{"nothing", nil, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []json.RawMessage
			for _, p := range tt.parts {
				parts = append(parts, json.RawMessage(p))
			}
			if got := string(SumJSON(parts...)); got != tt.want {
				t.Fatalf("SumJSON = %s, want %s", got, tt.want)
			}
		})
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

// TestSocketSetSlots checks the socket plan: a reuseport socket per slot for
// TCP and UDP on one port, one shared Unix socket, sockets kept across
// growth, and only the unwanted ones retired.
func TestSocketSetSlots(t *testing.T) {
	dir := t.TempDir()
	sock := "unix://" + filepath.Join(dir, "w.sock")
	ss := &socketSet{}
	if _, err := ss.grow([]Addr{"tcp://127.0.0.1:0", "udp://127.0.0.1:0", Addr(sock)}, 2); err != nil {
		t.Fatal(err)
	}
	defer ss.closeAll()
	tcp0, tcp1 := ss.slots[0][0], ss.slots[1][0]
	if tcp0 == tcp1 || tcp0.ln.Addr().String() != tcp1.ln.Addr().String() {
		t.Fatalf("TCP slots: want two sockets on one address, got %v and %v", tcp0.ln.Addr(), tcp1.ln.Addr())
	}
	if ss.slots[0][1].pc.LocalAddr().String() != ss.slots[1][1].pc.LocalAddr().String() {
		t.Fatal("UDP slots on different ports")
	}
	if ss.slots[0][2] != ss.slots[1][2] {
		t.Fatal("Unix socket must be shared by all slots")
	}
	// A connection lands on one of the slot sockets.
	c, err := net.Dial("tcp", tcp0.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Shrink to one slot and drop UDP: slot 1's TCP socket and both UDP
	// sockets retire; slot 0's TCP socket and the Unix socket stay.
	retired, err := ss.grow([]Addr{"tcp://127.0.0.1:0", Addr(sock)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(retired) != 3 {
		t.Fatalf("retired %d sockets, want 3", len(retired))
	}
	if ss.slots[0][0] != tcp0 {
		t.Fatal("kept address got a new socket: its accept queue would be lost")
	}
	closeSockets(retired)
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
func (a *testApp) Stats() any                      { return map[string]int64{"conns": a.conns.Load()} }

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
	var mu sync.Mutex
	newApp := func(env *Env) (App, error) {
		a, err := newTestApp(env)
		if err == nil {
			mu.Lock()
			apps = append(apps, a.(*testApp))
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

	sigs <- syscall.SIGUSR1
	waitFor(t, func() bool { return apps[1].reopens.Load() == 1 })

	hubTotals := func() map[string]any {
		var v struct {
			Workers int
			Sum     map[string]any
		}
		m := &master{live: map[*worker]bool{}}
		w := &worker{app: apps[1], built: make(chan struct{})}
		close(w.built)
		m.live[w] = true
		json.Unmarshal(m.totals(), &v)
		return v.Sum
	}
	if got := hubTotals()["conns"]; got == nil {
		t.Fatal("totals missing the app's stats")
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

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProcessWorkers runs real worker processes (this test binary): they
// serve, their stats are summed, a log rotation reported by RotateLog makes
// each of them reopen, and QUIT stops them.
func TestWorkerProcs(t *testing.T) {
	for _, tt := range []struct{ cpus, workers, want int }{
		{2, 1, 2}, {2, 2, 1}, {2, 53, 1}, {8, 3, 2}, {16, 4, 4}, {1, 4, 1}, {4, 0, 4},
	} {
		if got := workerProcs(tt.cpus, tt.workers); got != tt.want {
			t.Errorf("workerProcs(%d cores, %d workers) = %d, want %d", tt.cpus, tt.workers, got, tt.want)
		}
	}
}

func TestProcessWorkers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	marker := filepath.Join(t.TempDir(), "reopens")
	var rotations atomic.Int32
	sigs := make(chan os.Signal, 4)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(Config{
			Load: func() (Spec, error) {
				return Spec{Processes: 2, Listen: []Addr{Addr("tcp://" + addr)}, DrainTimeout: time.Second, Config: []byte(marker)}, nil
			},
			Executable:  os.Args[0],
			Args:        []string{"-test.run=^$"},
			Signals:     sigs,
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			RotateCheck: 50 * time.Millisecond,
			RotateLog: func() (bool, error) {
				return rotations.Add(1) == 3, nil // one rotation, on the third check
			},
			Ready: func() { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("master: %v", err)
	}
	for range 5 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 2)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'w' {
			t.Fatalf("worker did not serve: %v", err)
		}
		// Two workers divide the machine's cores between them.
		if want := min(workerProcs(runtime.NumCPU(), 2), 9); os.Getenv("GOMAXPROCS") == "" && int(b[1]-'0') != want {
			t.Errorf("worker GOMAXPROCS = %c, want %d (its share of %d cores)", b[1], want, runtime.NumCPU())
		}
		c.Close()
	}
	waitFor(t, func() bool {
		b, _ := os.ReadFile(marker)
		return strings.Count(string(b), "reopened") == 2 // both workers, once
	})
	sigs <- syscall.SIGQUIT
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("master did not stop")
	}
}
