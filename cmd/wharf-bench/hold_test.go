//go:build linux

package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"wharf/httpd"
	"wharf/packet"
	"wharf/websocket"

	"wharf/engine"
	"wharf/internal/loadgen"
	"wharf/server"
)

// waitOnline waits until srv holds n connections.
func waitOnline(t *testing.T, srv *server.Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Online() != n {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d connections, want %d", srv.Online(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkChildren asserts every child ended well and held its share.
func checkChildren(t *testing.T, h *loadgen.Hold, procs int) {
	t.Helper()
	if len(h.Children) != procs {
		t.Fatalf("%d children reported, want %d", len(h.Children), procs)
	}
	var sum int64
	for _, c := range h.Children {
		sum += c.Target
		if c.Exit != "ok" || c.PID == 0 {
			t.Errorf("child %d: exit %q pid %d", c.Index, c.Exit, c.PID)
		}
		if c.Final != c.Target || c.Peak != c.Target {
			t.Errorf("child %d: final %d peak %d of %d", c.Index, c.Final, c.Peak, c.Target)
		}
		if c.BaseRSSBytes <= 0 || c.RSSBytes <= 0 || c.BytesPerConn <= 0 {
			t.Errorf("child %d: rss %d base %d per conn %.0f, want measured", c.Index, c.RSSBytes, c.BaseRSSBytes, c.BytesPerConn)
		}
	}
	if sum != h.Target {
		t.Errorf("children's targets add up to %d, want %d", sum, h.Target)
	}
}

// Two processes hold 2000 connections from two source addresses with
// heartbeats, and nothing is dropped.
func TestHold(t *testing.T) {
	t.Setenv(envMain, "1")
	srv, addr := startPacket(t, server.Config{})
	type ipCount map[string]int
	seen := make(chan ipCount, 1)
	go func() {
		// While the hold phase runs, look at the connections from the
		// server's side: they come from both source addresses.
		deadline := time.Now().Add(20 * time.Second)
		for srv.Online() != 2000 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		var mu sync.Mutex
		ips := ipCount{}
		srv.Engine().Each(func(c engine.Conn) {
			mu.Lock()
			ips[c.RemoteAddr().(*net.TCPAddr).IP.String()]++
			mu.Unlock()
		})
		seen <- ips
	}()
	res, code, stderr := runJSON(t, "hold", "-addr", addr, "-c", "2000", "-procs", "2", "-src", "127.0.0.2,127.0.0.3",
		"-d", "3s", "-heartbeat", "500ms", "-status", "1s")
	if code != exitOK || !res.OK {
		t.Fatalf("exit %d ok=%v errors %v hints %v\nstderr:\n%s", code, res.OK, res.Errors.ByKind, res.Hints, stderr)
	}
	h := res.Hold
	if !h.Reached || h.Final != 2000 || h.Peak != 2000 || h.Procs != 2 || h.Sources != 2 {
		t.Errorf("hold %+v, want all 2000 reached and held by 2 processes from 2 sources", *h)
	}
	if len(h.Drops) != 0 || len(h.DialErrors) != 0 || h.Reconnects != 0 {
		t.Errorf("drops %v dial errors %v reconnects %d, want none", h.Drops, h.DialErrors, h.Reconnects)
	}
	// Every connection pings about every 500ms for 3s.
	if h.Pongs < 2000*3 || h.Pings-h.Pongs > 2000 || res.Requests != h.Pongs {
		t.Errorf("pings %d pongs %d requests %d, want about 12000 pongs", h.Pings, h.Pongs, res.Requests)
	}
	checkLatency(t, res.Latency, h.Pongs)
	checkChildren(t, h, 2)
	if ips := <-seen; ips["127.0.0.2"] != 1000 || ips["127.0.0.3"] != 1000 {
		t.Errorf("server saw connections from %v, want 1000 from each source", ips)
	}
	if !strings.Contains(stderr, "all 2,000 connections up") || !strings.Contains(stderr, "held 2,000/2,000") {
		t.Errorf("stderr lacks the status lines:\n%s", stderr)
	}
}

// The server closing every held connection shows up as drops with their
// reason, and the connections are redialed.
// TestHoldOverWebSocket: hold -transport ws opens and keeps connections of
// the packet protocol over WebSocket, from the given source addresses, and
// heartbeats them.
func TestHoldOverWebSocket(t *testing.T) {
	t.Setenv(envMain, "1")
	srv, _ := startPacket(t, server.Config{})
	ws, err := websocket.NewStreamServer(websocket.Config{Subprotocols: []string{packet.WebSocketSubprotocol}, RequireSubprotocol: true}, srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(startHTTP(t, httpd.Config{Native: ws}), "http://"), "/")
	res, code, stderr := runJSON(t, "hold", "-transport", "ws", "-addr", addr, "-c", "300", "-procs", "2", "-src", "127.0.0.2,127.0.0.3",
		"-d", "2s", "-heartbeat", "500ms", "-status", "1s")
	if code != exitOK || !res.OK {
		t.Fatalf("exit %d ok=%v errors %v hints %v\nstderr:\n%s", code, res.OK, res.Errors.ByKind, res.Hints, stderr)
	}
	h := res.Hold
	if !h.Reached || h.Final != 300 || len(h.Drops) != 0 || len(h.DialErrors) != 0 {
		t.Errorf("hold %+v, want all 300 reached and held", *h)
	}
	if h.Pongs < 300*2 {
		t.Errorf("pongs %d, want every connection heartbeating", h.Pongs)
	}
	if st := ws.Stats(); st.Upgrades < 300 {
		t.Errorf("the server saw %d WebSocket handshakes, want 300", st.Upgrades)
	}
}

func TestHoldDropsAndReconnects(t *testing.T) {
	t.Setenv(envMain, "1")
	srv, addr := startPacket(t, server.Config{})
	go func() {
		waitOnline(t, srv, 400)
		time.Sleep(300 * time.Millisecond)
		srv.Engine().Each(func(c engine.Conn) { c.Close() })
	}()
	res, code, stderr := runJSON(t, "hold", "-addr", addr, "-c", "400", "-procs", "2", "-d", "3s", "-heartbeat", "300ms", "-status", "1s")
	if code != exitFailed || res.OK {
		t.Fatalf("exit %d ok=%v, want a failure: drops exceed -max-errors 0\nstderr:\n%s", code, res.OK, stderr)
	}
	h := res.Hold
	var drops int64
	for reason, n := range h.Drops {
		if reason != "server_closed" && reason != "reset" {
			t.Errorf("drop reason %q (%d), want server_closed or reset", reason, n)
		}
		drops += n
		if res.Errors.ByKind["drop:"+reason] != n {
			t.Errorf("errors.by_kind[drop:%s] = %d, want %d", reason, res.Errors.ByKind["drop:"+reason], n)
		}
	}
	if drops != 400 || res.Conns.Dropped != 400 {
		t.Errorf("drops %v (conns.dropped %d), want the 400 closed by the server", h.Drops, res.Conns.Dropped)
	}
	if h.Reconnects != 400 || res.Conns.Reconnects != 400 || h.Final != 400 {
		t.Errorf("reconnects %d, final %d; want all 400 redialed and held", h.Reconnects, h.Final)
	}
	if !strings.Contains(strings.Join(res.Hints, "\n"), "the server closed 400 held connections") {
		t.Errorf("hints %q do not explain the drops", res.Hints)
	}
	checkChildren(t, h, 2)
}

// procChildren returns the pids whose parent is ppid.
func procChildren(t *testing.T, ppid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// Children never outlive the parent, however it dies.
func TestHoldChildrenDieWithParent(t *testing.T) {
	srv, addr := startPacket(t, server.Config{})
	parent := exec.Command(os.Args[0], "hold", "-addr", addr, "-c", "200", "-procs", "2", "-d", "0", "-heartbeat", "1s", "-status", "100ms")
	parent.Env = append(os.Environ(), envMain+"=1")
	errPipe, err := parent.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "all 200 connections up") {
				up <- true
			}
		}
		up <- false
	}()
	select {
	case ok := <-up:
		if !ok {
			t.Fatal("the parent ended before its connections were up")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("connections not up in 20s")
	}
	kids := procChildren(t, parent.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("parent %d has children %v, want 2", parent.Process.Pid, kids)
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	deadline := time.Now().Add(time.Second)
	for _, pid := range kids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d still runs a second after its parent was killed", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// And the server sees its connections go.
	waitOnline(t, srv, 0)
}

// Closing at -close-rate takes longer than the server's idle timeout here:
// the connections closed last must still be heartbeating, not kicked idle.
func TestHoldHeartbeatsWhileClosing(t *testing.T) {
	t.Setenv(envMain, "1")
	srv, addr := startPacket(t, server.Config{IdleTimeout: time.Second})
	res, code, stderr := runJSON(t, "hold", "-addr", addr, "-c", "200", "-procs", "1",
		"-d", "500ms", "-heartbeat", "200ms", "-close-rate", "80", "-status", "1s")
	if code != exitOK || !res.OK {
		t.Fatalf("exit %d ok=%v errors %v hints %v\nstderr:\n%s", code, res.OK, res.Errors.ByKind, res.Hints, stderr)
	}
	if h := res.Hold; len(h.Drops) != 0 {
		t.Errorf("drops %v while closing over 2.5s against a 1s idle timeout, want none", h.Drops)
	}
	if n := srv.Stats().Kicks[server.KickIdle]; n != 0 {
		t.Errorf("server kicked %d connections idle", n)
	}
}
