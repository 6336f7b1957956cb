package main

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"wharf/tlsconn"
)

// The TLS runs' certificate, client configuration and server flags
// (setupTLS); nil and empty for plain runs.
var (
	tlsDir     string
	clientTLS  *tls.Config
	serverArgs []string
)

// setupTLS writes a self-signed ECDSA P-256 certificate for the servers
// and makes the client's configuration: TLS 1.3, no session cache (every
// connection makes a full handshake), and no chain verification, so that
// the load generator spends less of its core per handshake (the signature
// over the handshake is still checked, as TLS requires).
func setupTLS() error {
	dir, err := os.MkdirTemp("", "echobench-tls-")
	if err != nil {
		return err
	}
	cert, key, err := tlsconn.WriteSelfSigned(filepath.Join(dir, "tls"))
	if err != nil {
		return err
	}
	tlsDir = dir
	serverArgs = []string{"-cert", cert, "-key", key}
	clientTLS = &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, ServerName: "localhost"}
	return nil
}

// handshakeTable runs the handshake scenario in rounds over impls and
// prints its table: handshakes/s, server CPU per handshake, and the
// median of the per-round ratios to the best peer.
func handshakeTable(impls []string, bin, cpu string, workers, runs int, warm, dur time.Duration) {
	rates := make([][]float64, len(impls))
	cpus := make([][]float64, len(impls))
	for range runs {
		for i, impl := range impls {
			rate, cpuPer, err := runHandshakes(bin, cpu, impl, workers, warm, dur)
			if err != nil {
				fmt.Fprintf(os.Stderr, "echobench: handshakes %s: %v\n", impl, err)
				rate, cpuPer = math.NaN(), math.NaN()
			}
			rates[i], cpus[i] = append(rates[i], rate), append(cpus[i], cpuPer)
			fmt.Fprintf(os.Stderr, "handshakes %-10s %8.0f /s %6.0f µs CPU each\n", impl, rate, cpuPer/1e3)
		}
	}
	fmt.Printf("TLS 1.3 handshakes (ECDSA P-256, full, no resumption), %d client goroutines, median of %d rounds:\n\n", workers, runs)
	fmt.Println("| server | handshakes/s | server CPU µs/handshake | per-round vs best peer |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for i, impl := range impls {
		ok := dropNaN(rates[i])
		if len(ok) == 0 {
			continue
		}
		fmt.Printf("| %s | %.0f | %.0f | %s |\n", impl, median(ok), median(dropNaN(cpus[i]))/1e3,
			fmtRatio(orZero(median(roundRatios(impls, rates, i, bestPeer)))))
	}
	fmt.Println()
}

// runHandshakes starts impl and has workers goroutines connect, make a
// full TLS 1.3 handshake, exchange one byte (so the server finished its
// side) and close, until warm+dur is over; it measures the rate and the
// server's CPU per handshake over dur.
func runHandshakes(bin, cpu, impl string, workers int, warm, dur time.Duration) (rate, cpuNsPer float64, err error) {
	cmd, addr, err := startServer(bin, cpu, impl, "")
	if err != nil {
		return 0, 0, err
	}
	defer stopServer(cmd)
	var (
		count  atomic.Int64
		failed atomic.Int64
		stop   atomic.Bool
		wg     sync.WaitGroup
		first  atomic.Value
	)
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 1)
			for !stop.Load() {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err == nil {
					tc := tls.Client(c, clientTLS)
					tc.SetDeadline(time.Now().Add(5 * time.Second))
					if _, err = tc.Write(buf); err == nil {
						_, err = tc.Read(buf)
					}
					c.Close()
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				count.Add(1)
			}
		})
	}
	time.Sleep(warm)
	n0, t0 := count.Load(), time.Now()
	c0, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		return 0, 0, err
	}
	time.Sleep(dur)
	n1, t1 := count.Load(), time.Now()
	c1, _ := cpuTicks(cmd.Process.Pid)
	stop.Store(true)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return 0, 0, fmt.Errorf("%d handshakes failed, the first: %v", f, first.Load())
	}
	n := float64(n1 - n0)
	if n == 0 {
		return 0, 0, fmt.Errorf("no handshake completed")
	}
	return n / t1.Sub(t0).Seconds(), float64(c1-c0) * 1e9 / clkTck / n, nil
}
