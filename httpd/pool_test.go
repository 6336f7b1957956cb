package httpd

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"wharf/engine"
	"wharf/internal/testkit"
)

// TestPoolBlockedHandlersDoNotHoldUpOthers: handlers that block take a
// worker each, and the requests queued behind them are served by others,
// up to Config.Handlers at once.
func TestPoolBlockedHandlersDoNotHoldUpOthers(t *testing.T) {
	const blockers = 3
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(blockers)
	s, addr := startServer(t, Config{Handlers: blockers + 1, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			started.Done()
			<-release
		}
		fmt.Fprint(w, r.URL.Path)
	})})
	for range blockers {
		c, _ := rawConn(t, addr)
		c.Write([]byte("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"))
	}
	started.Wait() // three workers are stuck
	for i := range 20 {
		c, br := rawConn(t, addr)
		c.Write([]byte("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, body := readResponse(t, br, "GET"); body != "/fast" {
			t.Fatalf("request %d: %q", i, body)
		}
	}
	if n := s.pool.running.Load(); n != blockers+1 {
		t.Errorf("%d workers run, want %d (the blocked ones and one more)", n, blockers+1)
	}
	close(release)
}

// TestPoolBurstWakesFewWorkers: a burst of requests that do not block is
// served by the workers already searching, not by a goroutine each.
func TestPoolBurstWakesFewWorkers(t *testing.T) {
	s, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})})
	const conns = 200
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, br := rawConn(t, addr)
			for range 5 {
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				if _, body := readResponse(t, br, "GET"); body != "ok" {
					t.Errorf("body %q", body)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The old pool woke one goroutine per request while enough were
	// parked, and so grew towards one per connection.
	if n := s.pool.running.Load(); n > conns/4 {
		t.Errorf("%d workers for %d connections of handlers that never block, want far fewer", n, conns)
	}
}

// TestPoolReapsIdleWorkers: workers parked for workerIdle (by
// Config.Clock) exit; the pool starts new ones when work comes.
func TestPoolReapsIdleWorkers(t *testing.T) {
	clk := testkit.NewClock(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
	s, addr := startServer(t, Config{Clock: clk.Now, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})})
	get := func() {
		c, br := rawConn(t, addr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, body := readResponse(t, br, "GET"); body != "ok" {
			t.Fatalf("body %q", body)
		}
	}
	get()
	waitFor(t, "the worker parked", func() bool {
		s.pool.mu.Lock()
		defer s.pool.mu.Unlock()
		return len(s.pool.idle) > 0
	})
	s.pool.reap(clk.Now().Add(workerIdle - time.Second))
	if s.pool.running.Load() == 0 {
		t.Fatal("a worker idle for less than workerIdle was stopped")
	}
	clk.Add(workerIdle)
	s.pool.reap(clk.Now())
	waitFor(t, "idle workers stopped", func() bool { return s.pool.running.Load() == 0 })
	get()
}

// TestAdapterRequestAllocations is the adapter's allocation budget per
// request: the *http.Request (WithContext's copy), its Header map (two:
// the map and its table), its context and CancelFunc, the job (with the
// URL), and the handler's own Header().Set; the request's header values
// add one string and one slice block whatever their number. Pools cover
// the rest (response, write buffers, handler goroutines). It was 13 before
// the header blocks, the URL in the job and the stack template.
func TestAdapterRequestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	_, addr := startServer(t, Config{Engine: engine.Config{Loops: 1}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(benchHello)
	})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	req := []byte("GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	roundTrip := func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		for { // status line and header, then the 13-byte body
			line, err := br.ReadSlice('\n')
			if err != nil {
				t.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
		}
		if _, err := br.Discard(13); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		roundTrip()
	}
	const budget = 9
	if n := testing.AllocsPerRun(200, roundTrip); n > budget {
		t.Fatalf("%v allocations per request, want at most %d", n, budget)
	}
}
