package loadgen_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"wharf/internal/loadgen"
)

// A Recorder takes latencies from several goroutines (one shard each) and
// summarises them.
func ExampleRecorder() {
	rec := loadgen.NewRecorder(2)
	for i := 1; i <= 100; i++ {
		rec.Record(i%2, time.Duration(i)*time.Millisecond)
	}
	s := rec.Snapshot().Summary()
	fmt.Printf("%d samples, p50 %s, p99 %s, max %s\n", s.Count, loadgen.US(s.P50), loadgen.US(s.P99), loadgen.US(s.Max))
	// Output: 100 samples, p50 50.00ms, p99 99.02ms, max 100.01ms
}

// A child process sends its histogram as Sparse (JSON); the parent adds it
// to its own, exactly.
func ExampleHistogram_Sparse() {
	child := loadgen.NewHistogram()
	child.Record(300 * time.Microsecond)
	child.Record(300 * time.Microsecond)
	child.Record(2 * time.Millisecond)
	line, _ := json.Marshal(child.Sparse())

	var s loadgen.Sparse
	json.Unmarshal(line, &s)
	parent := loadgen.NewHistogram()
	parent.Record(time.Millisecond)
	if err := parent.AddSparse(s); err != nil {
		fmt.Println(err)
	}
	fmt.Println(parent.Count(), loadgen.US(parent.Summary().P50))
	// Output: 4 300µs
}

func ExampleHistogram_Merge() {
	a, b := loadgen.NewHistogram(), loadgen.NewHistogram()
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	a.Merge(b)
	fmt.Println(a.Count(), loadgen.US(a.Summary().Max))
	// Output: 2 3.00ms
}

func ExampleNewRecorder() {
	rec := loadgen.NewRecorder(4) // one shard per event loop
	rec.Record(3, 120*time.Microsecond)
	fmt.Println(rec.Count(), rec.Drain().Count(), rec.Drain().Count())
	// Output: 1 1 0
}

func ExampleParseSources() {
	srcs, err := loadgen.ParseSources("127.0.0.2-4,10.0.0.7")
	fmt.Println(srcs, err)
	_, err = loadgen.ParseSources("127.0.0.9-127.0.0.2")
	fmt.Println(errors.Is(err, loadgen.ErrBadRange))
	// Output:
	// [127.0.0.2 127.0.0.3 127.0.0.4 10.0.0.7] <nil>
	// true
}

func ExampleParseAddrs() {
	addrs, err := loadgen.ParseAddrs("127.0.0.1:7000, :7002")
	fmt.Println(addrs, err)
	// Output: [127.0.0.1:7000 127.0.0.1:7002] <nil>
}

func ExampleKind() {
	err := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}
	fmt.Println(loadgen.Kind(err), loadgen.Kind(io.EOF), loadgen.Kind(os.ErrDeadlineExceeded))
	// Output: addr_not_avail eof timeout
}

func ExampleCounts() {
	var c loadgen.Counts
	c.Add("dial:refused", 2)
	c.Add("drop:reset", 1)
	fmt.Println(c.Total(), c.Snapshot())
	// Output: 3 map[dial:refused:2 drop:reset:1]
}

func ExampleSortedKeys() {
	fmt.Println(loadgen.SortedKeys(map[string]int64{"reset": 1, "eof": 5, "timeout": 1}))
	// Output: [eof reset timeout]
}

func ExampleResult_WriteJSON() {
	r := &loadgen.Result{Schema: loadgen.Schema, Command: "echo", Targets: []string{"127.0.0.1:9000"},
		Requests: 10, Errors: loadgen.Errors{ByKind: map[string]int64{}}, OK: true}
	var m map[string]any
	pr, pw := io.Pipe()
	go func() { r.WriteJSON(pw); pw.Close() }()
	json.NewDecoder(pr).Decode(&m)
	fmt.Println(m["schema"], m["command"], m["requests"], m["ok"])
	// Output: wharf-bench/1 echo 10 true
}

func ExampleResult_WriteText() {
	r := &loadgen.Result{Command: "echo", Targets: []string{"127.0.0.1:9000"}, ElapsedS: 1,
		Conns: loadgen.Conns{Target: 2, Opened: 2, Peak: 2}, Requests: 2000, RequestsPerS: 2000,
		Latency: &loadgen.Latency{Count: 2000, Min: 20, Mean: 40, P50: 35, P90: 60, P99: 90, P999: 120, Max: 150},
		Errors:  loadgen.Errors{ByKind: map[string]int64{}}, OK: true}
	r.WriteText(os.Stdout)
	// Output:
	// wharf-bench echo: 127.0.0.1:9000, 2 connections, 1.0s (+0.0s setup)
	//   requests    2,000 (2,000/s)
	//   latency     p50 35µs  p90 60µs  p99 90µs  p99.9 120µs  max 150µs  (mean 40µs, 2,000 samples)
	//   connections 2 opened, 0 failed, 0 dropped, 0 reconnects, peak 2
	//   errors      0 (max 0): none
	//   result      ok
}

func ExampleNum() {
	fmt.Println(loadgen.Num(1000000), loadgen.Bytes(1<<20), loadgen.US(1500))
	// Output: 1,000,000 1.0 MiB 1.50ms
}

// Off a terminal, Progress writes only the lines given to Println.
func ExampleNewProgress() {
	p := loadgen.NewProgress(os.Stdout, 100, false)
	p.Update(10, "conns 10/100") // draws only on a terminal
	p.Println("status: %d connected", 10)
	p.Finish()
	// Output: status: 10 connected
}

// BindNoPort goes in a dialer's Control so that many connections can share
// one source address.
func ExampleBindNoPort() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Control: loadgen.BindNoPort}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.LocalAddr().(*net.TCPAddr).IP)
	// Output: 127.0.0.2
}

func ExampleRSS() {
	rss, err := loadgen.RSS()
	fmt.Println(rss > 0, err)
	// Output: true <nil>
}

func ExampleRaiseFileLimit() {
	soft, hard, err := loadgen.RaiseFileLimit()
	fmt.Println(soft > 0 && soft <= hard, err)
	// Output: true <nil>
}

func ExampleIsTerminal() {
	f, _ := os.CreateTemp("", "loadgen")
	defer os.Remove(f.Name())
	defer f.Close()
	fmt.Println(loadgen.IsTerminal(f))
	// Output: false
}

// A bench's Meter paces a connection under -rate and spends the -n budget.
func ExampleMeter() {
	o := &loadgen.Options{Conns: 1, Rate: 10, N: 2} // one connection, 10 requests/s, 2 in all
	m := loadgen.NewMeter(o)
	m.Init(1)
	p := m.StartPace(0)
	now := m.Now()
	for i := 0; i < 3; i++ {
		wait := m.Paced(&p, now)
		fmt.Println(wait == 0, m.MayIssue())
		now += int64(100 * time.Millisecond)
	}
	// Output:
	// true true
	// true true
	// true false
}

// ReadResponse reads one response and discards its body, allocating
// nothing.
func ExampleReadResponse() {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	for range 2 {
		r, err := loadgen.ReadResponse(br, false)
		fmt.Println(r.Status, r.KeepAlive, r.Body, err)
	}
	// Output:
	// 200 true 5 <nil>
	// 204 false 0 <nil>
}

// Streams drives one goroutine per connection: here two connections
// exchange lines with an in-memory echo peer until the -n budget of 10 is
// spent.
func ExampleStreams() {
	o := &loadgen.Options{Conns: 2, N: 10, Timeout: time.Second}
	m := loadgen.NewMeter(o)
	var s loadgen.Streams
	s = loadgen.Streams{
		Meter: m,
		Dial: func(ctx context.Context, i int) (net.Conn, error) {
			ours, peer := net.Pipe()
			go func() { io.Copy(peer, peer); peer.Close() }() // echo until ours closes
			return ours, nil
		},
		Serve: func(ctx context.Context, nc net.Conn, i int, p *loadgen.Pace) (bool, string) {
			br := bufio.NewReader(nc)
			for {
				k, sent := s.TopUp(ctx, p, 0, 1)
				if k == 0 {
					return false, "" // budget spent: this connection is done
				}
				nc.Write([]byte("ping\n"))
				if _, err := br.ReadString('\n'); err != nil {
					return true, loadgen.Kind(err)
				}
				m.Complete(i, sent, m.Now())
			}
		},
	}
	m.Init(o.Conns)
	s.Start(context.Background())
	<-m.Done() // the 10th exchange ends the run
	m.Halt()
	s.Finish(time.Second)
	var res loadgen.Result
	m.FillResult(&res)
	fmt.Println(res.Requests, res.Conns.Opened, res.Conns.Dropped)
	// Output: 10 2 0
}

// A program's hold subcommand: the same flags in the parent and in each
// child it starts again with Command.
func ExampleHoldConfig() {
	c := &loadgen.HoldConfig{Command: []string{"hold"}, Dial: loadgen.DialTCP}
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	c.Flags(fs)
	fs.Parse([]string{"-addr", "127.0.0.1:7000,127.0.0.1:7002", "-c", "1000", "-heartbeat", "10s"})
	if err := c.Check(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Conns, c.Heartbeat, c.IsChild())
	// A parent would now call RunHold, and a child (-child-index N)
	// RunHoldChild with its stdin and stdout.
	// Output: 1000 10s false
}
