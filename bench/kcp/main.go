// Command kcp compares request/reply latency and throughput of wharf's
// message server over KCP (each mode) and over TCP on a lossy path, to check
// seed 004's claim that KCP cuts average latency by 30-40% under loss.
//
// Two set-ups, chosen with -path:
//
//   - wrapper: KCP only, through package lossy on both ends (the loss,
//     plus -latency each way, applied in the process). TCP cannot run
//     through a PacketConn wrapper.
//   - kernel: both transports through the kernel, server and client in two
//     network namespaces joined by TUN devices and ./tunlink, which delays
//     and drops packets (this kernel has no netem), so KCP and TCP cross the
//     same lossy, delayed link. run.sh runs -role server in one namespace
//     and -role client in the other.
//
// For each transport it runs -conns clients doing sequential echo requests
// of -size bytes for -duration (latency p50/p99/mean and requests per
// second), then one client asking the server to push -push KiB in 1 KiB
// packets (throughput). It prints one markdown table row per transport.
//
//	cd bench && go run ./kcp -path wrapper -loss 0.05
//	bench/kcp/run.sh   # as root: both set-ups, every loss level
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"wharf/kcp"
	"wharf/kcp/lossy"
	"wharf/packet"
	"wharf/server"
)

const (
	codeEcho   = 10
	codePush   = 13 // body: u32 count; the server pushes count 1 KiB packets
	codePushed = 20
)

type options struct {
	path     string
	loss     float64
	latency  time.Duration
	conns    int
	size     int
	duration time.Duration
	pushKiB  int
	only     string
	header   bool
	role     string
	host     string
	limit    time.Duration
}

// Fixed ports of -role server: TCP, then KCP fast, normal and default.
const basePort = 7000

func main() {
	var o options
	flag.StringVar(&o.path, "path", "wrapper", "wrapper (package lossy, KCP only) or kernel (loopback as the kernel treats it, KCP and TCP)")
	flag.Float64Var(&o.loss, "loss", 0, "wrapper: loss probability per datagram, each way; kernel: only printed (the namespace applies it)")
	flag.DurationVar(&o.latency, "latency", 10*time.Millisecond, "wrapper: one-way delay")
	flag.IntVar(&o.conns, "conns", 4, "concurrent request/reply clients")
	flag.IntVar(&o.size, "size", 64, "request body bytes")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "request/reply run length per transport")
	flag.IntVar(&o.pushKiB, "push", 2048, "throughput run: KiB the server pushes (0: skip)")
	flag.StringVar(&o.only, "only", "", "run only this transport (tcp, kcp-fast, kcp-normal, kcp-default)")
	flag.BoolVar(&o.header, "header", false, "print the table header first")
	flag.StringVar(&o.role, "role", "all", "all (server and clients in this process), server, or client")
	flag.StringVar(&o.host, "host", "127.0.0.1", "server and client roles: the server's address")
	flag.DurationVar(&o.limit, "for", 20*time.Minute, "server role: exit after this long")
	flag.Parse()
	if o.header {
		fmt.Println("| path | loss | transport | p50 ms | p99 ms | mean ms | req/s | push MB/s |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "kcp bench:", err)
		os.Exit(1)
	}
}

type target struct {
	name string
	dial func(ctx context.Context) (net.Conn, error)
}

var modes = []kcp.Mode{kcp.ModeFast, kcp.ModeNormal, kcp.ModeDefault}

func run(o options) error {
	var targets []target
	if o.role == "client" {
		targets = remoteTargets(o)
	} else {
		srv, local, err := serve(o)
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		}()
		if o.role == "server" {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			select {
			case <-sig:
			case <-time.After(o.limit):
			}
			return nil
		}
		targets = local
	}
	for _, tg := range targets {
		if o.only != "" && tg.name != o.only {
			continue
		}
		lat, rps, err := latency(o, tg.dial)
		if err != nil {
			return fmt.Errorf("%s: %w", tg.name, err)
		}
		mbps := "-"
		if o.pushKiB > 0 {
			v, err := throughput(o, tg.dial)
			if err != nil {
				mbps = "failed: " + err.Error()
			} else {
				mbps = fmt.Sprintf("%.2f", v)
			}
		}
		fmt.Printf("| %s | %g%% | %s | %.2f | %.2f | %.2f | %.0f | %s |\n", o.path, o.loss*100, tg.name,
			ms(pct(lat, 0.50)), ms(pct(lat, 0.99)), ms(mean(lat)), rps, mbps)
	}
	return nil
}

// serve starts the server: TCP and one KCP transport per mode, on fixed
// ports of o.host for -role server, on loopback port 0 (through the lossy
// wrapper for -path wrapper) otherwise. It returns the targets that reach
// them from this process.
func serve(o options) (*server.Server, []target, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt := server.NewRouter()
	rt.HandleFunc(codeEcho, func(r *server.Request) { r.Reply(r.Body) })
	rt.HandleFunc(codePush, func(r *server.Request) {
		n := binary.BigEndian.Uint32(r.Body)
		body := make([]byte, 1024)
		for range n {
			if r.Conn.Send(codePushed, body) != nil {
				return
			}
		}
	})
	srv, err := server.New(server.Config{
		Logger: quiet, StatsInterval: -1, FloodMode: server.FloodOff,
		MaxPendingPerConn: 1 << 20, IdleTimeout: time.Hour,
	}, rt)
	if err != nil {
		return nil, nil, err
	}
	host, port := "127.0.0.1", 0
	if o.role == "server" {
		host, port = o.host, basePort
	}
	tcpAddr, err := srv.Listen("tcp://" + net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return nil, nil, err
	}
	var targets []target
	if o.role != "all" || o.path != "wrapper" {
		targets = append(targets, target{"tcp", func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", tcpAddr.String())
		}})
	}
	var seed uint64
	wrap := func(pc net.PacketConn) net.PacketConn {
		if o.role != "all" || o.path != "wrapper" {
			return pc
		}
		seed++
		return lossy.Wrap(pc, lossy.Config{Loss: o.loss, Latency: o.latency, Seed: seed})
	}
	for i, mode := range modes {
		p := 0
		if port != 0 {
			p = port + 1 + i
		}
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(host, fmt.Sprint(p)))
		if err != nil {
			return nil, nil, err
		}
		cfg := kcp.Config{Mode: mode, Logger: quiet, IdleTimeout: time.Hour}
		tr, err := kcp.Serve(wrap(pc), cfg, srv.Handler())
		if err != nil {
			return nil, nil, err
		}
		srv.Attach(tr)
		addr := tr.Addr()
		targets = append(targets, target{"kcp-" + string(mode), func(ctx context.Context) (net.Conn, error) {
			cpc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			return kcp.DialPacketConn(ctx, wrap(cpc), addr, kcp.Config{Mode: mode})
		}})
	}
	if err := srv.Start(); err != nil {
		return nil, nil, err
	}
	return srv, targets, nil
}

// remoteTargets reach a -role server at o.host.
func remoteTargets(o options) []target {
	tcpAddr := net.JoinHostPort(o.host, fmt.Sprint(basePort))
	targets := []target{{"tcp", func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", tcpAddr)
	}}}
	for i, mode := range modes {
		addr := net.JoinHostPort(o.host, fmt.Sprint(basePort+1+i))
		targets = append(targets, target{"kcp-" + string(mode), func(ctx context.Context) (net.Conn, error) {
			return kcp.Dial(ctx, addr, kcp.Config{Mode: mode})
		}})
	}
	return targets
}

// latency runs o.conns clients doing sequential echo requests for
// o.duration and returns every request's round trip and the request rate.
func latency(o options, dial func(context.Context) (net.Conn, error)) ([]time.Duration, float64, error) {
	var (
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(o.duration)
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples, err := client(o, dial, end)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, samples...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return all, float64(len(all)) / elapsed.Seconds(), firstErr
}

func client(o options, dial func(context.Context) (net.Conn, error), end time.Time) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	r := packet.NewReader(nc)
	body := make([]byte, o.size)
	var samples []time.Duration
	for time.Now().Before(end) {
		t0 := time.Now()
		if err := packet.WritePacket(nc, codeEcho, body); err != nil {
			return samples, err
		}
		nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, _, err := r.ReadPacket(); err != nil {
			return samples, err
		}
		samples = append(samples, time.Since(t0))
	}
	return samples, nil
}

// throughput asks for o.pushKiB pushes of 1 KiB and returns MB/s received.
func throughput(o options, dial func(context.Context) (net.Conn, error)) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := dial(ctx)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	r := packet.NewReader(nc)
	req := make([]byte, 4)
	binary.BigEndian.PutUint32(req, uint32(o.pushKiB))
	t0 := time.Now()
	if err := packet.WritePacket(nc, codePush, req); err != nil {
		return 0, err
	}
	nc.SetReadDeadline(time.Now().Add(120 * time.Second))
	got := 0
	for got < o.pushKiB {
		code, body, err := r.ReadPacket()
		if err != nil {
			return 0, fmt.Errorf("after %d KiB: %w", got, err)
		}
		if code == codePushed {
			got++
			_ = body
		}
	}
	return float64(o.pushKiB*1024) / 1e6 / time.Since(t0).Seconds(), nil
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return sum / time.Duration(len(d))
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
