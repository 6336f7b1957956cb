//go:build unix

package supervisor

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestProcessWorkers runs real worker processes (this test binary): they
// serve, their stats are summed, a log rotation reported by RotateLog makes
// each of them reopen, and QUIT stops them.
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
			NewStats:    func() Stats { return new(connStats) },
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
	// Each connection is answered with the worker's GOMAXPROCS and the
	// number of workers in the totals its Hub gets from the master: both,
	// once both have reported their Stats.
	sawBoth := false
	for i := 0; i < 5 || !sawBoth; i++ {
		if i > 500 {
			t.Fatal("the totals never counted both workers")
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 3)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'w' {
			t.Fatalf("worker did not serve: %v", err)
		}
		switch b[2] {
		case '2':
			sawBoth = true
		case '0', '1':
			time.Sleep(10 * time.Millisecond) // a worker has not pushed its first Stats yet
		default:
			t.Fatalf("totals counted %q workers", b[2])
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
