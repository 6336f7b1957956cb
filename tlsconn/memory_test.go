package tlsconn

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"wharf/engine"
)

// idleBudget is what an idle TLS 1.3 connection may cost the server after
// its handshake and one echo, all included: the engine connection, the
// Layered connection, the tls.Conn and what crypto/tls keeps (its input
// buffer at the size of the largest record read, the ClientHello-sized
// handshake buffer, two AES-GCM states). net/http with crypto/tls holds
// about 30+ KiB (a goroutine stack, bufio buffers, the same tls.Conn).
const idleBudget = 8 << 10

// TestIdleMemory holds idle TLS connections from a client in another
// process and measures the server's live heap and stacks per connection.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: thousands of handshakes")
	}
	n := 2000
	if raceEnabled {
		n = 300
	}
	p := thePKI(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pemCert(p.caCert), 0o600)
	s := startServer(t, engine.Reactor, serverConfig(p.issue(t, certOpts{})), engine.Config{Loops: 1}, newTH())

	runtime.GC()
	before := liveBytes()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$")
	cmd.Env = append(os.Environ(), "TLSCONN_IDLE_ADDR="+s.addr, "TLSCONN_IDLE_N="+strconv.Itoa(n), "TLSCONN_IDLE_CA="+ca)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("client process: %q, %v", line, err)
	}
	eventually(t, "every handshake", func() bool { return s.h.Stats().Handshakes == uint64(n) })
	for range n {
		s.inner.waitOpen(t)
	}
	time.Sleep(50 * time.Millisecond) // the last echoes' writes complete
	runtime.GC()
	runtime.GC()
	after := liveBytes()
	if f := os.Getenv("TLSCONN_HEAP_PROFILE"); f != "" { // go tool pprof -sample_index=inuse_space
		if w, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(w)
			w.Close()
		}
	}
	per := float64(after-before) / float64(n)
	t.Logf("idle TLS 1.3 connections: %d, %.0f bytes each (heap and stacks, handshake goroutines gone: %d running)", n, per, s.h.Stats().Handshaking)
	if per > idleBudget {
		t.Errorf("%.0f bytes per idle connection, budget %d", per, idleBudget)
	}
}

// liveBytes is the live heap plus goroutine stacks.
func liveBytes() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// TestIdleClientProcess is TestIdleMemory's client, in a process of its
// own so that its memory is not counted: it opens the connections, echoes
// once on each, says "ready" and holds them until stdin closes.
func TestIdleClientProcess(t *testing.T) {
	addr := os.Getenv("TLSCONN_IDLE_ADDR")
	if addr == "" {
		t.Skip("run by TestIdleMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("TLSCONN_IDLE_N"))
	roots, err := LoadCertPool(os.Getenv("TLSCONN_IDLE_CA"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	conns := make([]*tls.Conn, 0, n)
	for range n {
		c, err := tryDialTLS(addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
