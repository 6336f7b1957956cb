package client

import (
	"context"
	"fmt"
	"net"
	"testing"

	"wharf/packet"
	"wharf/server"
)

// benchServers are the peers the benchmarks talk to over loopback: a real
// wharf server (decoder, router, worker pool, send queue), and a bare echo
// loop that shows the client's own cost.
func benchServers(b *testing.B) []struct{ name, addr string } {
	ts := startServer(b, server.Config{}, "")
	return []struct{ name, addr string }{
		{"wharf", ts.addr},
		{"raw", fakeServer(b, echoConn)},
	}
}

var benchSizes = []int{16, 256, 4096}

// BenchmarkRequest is one goroutine's round trip: send, wait, reply.
func BenchmarkRequest(b *testing.B) {
	for _, srv := range benchServers(b) {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("server=%s/size=%d", srv.name, size), func(b *testing.B) {
				c := dial(b, srv.addr, Config{})
				body := make([]byte, size)
				buf := make([]byte, 0, size)
				ctx := context.Background()
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					var err error
					if buf, err = c.AppendReply(ctx, buf[:0], codeEcho, body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRequestAlloc is Request, which returns a new slice per reply.
func BenchmarkRequestAlloc(b *testing.B) {
	c := dial(b, fakeServer(b, echoConn), Config{})
	body := make([]byte, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := c.Request(context.Background(), codeEcho, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestParallel pipelines requests from many goroutines (16 per
// P) on one client: the load generator's pattern.
func BenchmarkRequestParallel(b *testing.B) {
	for _, srv := range benchServers(b) {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("server=%s/size=%d", srv.name, size), func(b *testing.B) {
				c := dial(b, srv.addr, Config{})
				body := make([]byte, size)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 0, size)
					ctx := context.Background()
					for pb.Next() {
						var err error
						if buf, err = c.AppendReply(ctx, buf[:0], codeEcho, body); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkPoolParallel spreads the same load over a pool of 4 connections.
func BenchmarkPoolParallel(b *testing.B) {
	ts := startServer(b, server.Config{}, "")
	p, err := NewPool(context.Background(), PoolConfig{Addrs: []string{ts.addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	body := make([]byte, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, len(body))
		for pb.Next() {
			var err error
			if buf, err = p.AppendReply(context.Background(), buf[:0], codeEcho, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBaselineConn is the floor for BenchmarkRequest/server=raw: one
// goroutine writing a packet to a net.Conn and reading the echo itself, with
// no client around it.
func BenchmarkBaselineConn(b *testing.B) {
	nc, err := net.Dial("tcp", fakeServer(b, echoConn))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	rd := packet.NewReader(nc)
	body := make([]byte, 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := packet.WritePacket(nc, codeEcho, body); err != nil {
			b.Fatal(err)
		}
		if _, _, err := rd.ReadPacket(); err != nil {
			b.Fatal(err)
		}
	}
}
