package kcp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"wharf/client"
	"wharf/engine"
	"wharf/kcp"
	"wharf/kcp/lossy"
	"wharf/packet"
	"wharf/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A wharf server serving the same router over TCP and KCP.
func ExampleListen() {
	rt := server.NewRouter()
	rt.HandleFunc(10, func(r *server.Request) { r.Reply(r.Body) }) // echo
	srv, _ := server.New(server.Config{Logger: quiet, StatsInterval: -1}, rt)
	srv.Listen("tcp://127.0.0.1:0")
	tr, err := kcp.Listen("udp://127.0.0.1:0", kcp.Config{Mode: kcp.ModeFast, Logger: quiet}, srv.Handler())
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Attach(tr) // the server's Each, Broadcast, Stats and Shutdown cover the KCP sessions
	srv.Start()

	// A client using the packet helpers on the dialed session.
	nc, _ := kcp.Dial(context.Background(), tr.Addr().String(), kcp.Config{})
	packet.WritePacket(nc, 10, []byte("over kcp"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, body, err := packet.NewReader(nc).ReadPacket()
	fmt.Println(code, string(body), err)

	// Shut the server down while the client still acknowledges: KCP has no
	// close handshake, so a graceful close waits for the peer's ACKs (or
	// its silence).
	srv.Shutdown(context.Background())
	nc.Close()
	// Output: 10 over kcp <nil>
}

// The client package over KCP: kcp.Dial as its Dialer.
func ExampleDial() {
	rt := server.NewRouter()
	rt.HandleFunc(10, func(r *server.Request) { r.Reply(r.Body) })
	srv, _ := server.New(server.Config{Logger: quiet, StatsInterval: -1}, rt)
	tr, _ := kcp.Listen("udp://127.0.0.1:0", kcp.Config{Logger: quiet}, srv.Handler())
	srv.Attach(tr)
	srv.Start()

	cfg := kcp.Config{Mode: kcp.ModeFast}
	c, err := client.Dial(context.Background(), "kcp://"+tr.Addr().String(), client.Config{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return kcp.Dial(ctx, addr, cfg)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reply, err := c.Request(context.Background(), 10, []byte("hello"))
	fmt.Println(string(reply), err)
	srv.Shutdown(context.Background())
	c.Close()
	// Output: hello <nil>
}

// Serve on a PacketConn made elsewhere: here a lossy one, as the tests do.
func ExampleServe() {
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	bad := lossy.Wrap(pc, lossy.Config{Loss: 0.1, Seed: 1})
	tr, err := kcp.Serve(bad, kcp.Config{Logger: quiet}, engine.BaseHandler{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tr.Name(), tr.Stats().Open)
	tr.Shutdown(context.Background()) // closes bad, and pc with it
	// Output: kcp 0
}

// A client session over a PacketConn made elsewhere.
func ExampleDialPacketConn() {
	h := echo{}
	tr, _ := kcp.Listen("udp://127.0.0.1:0", kcp.Config{Logger: quiet}, h)
	defer tr.Shutdown(context.Background())

	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	nc, err := kcp.DialPacketConn(context.Background(), pc, tr.Addr(), kcp.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close() // closes pc too
	nc.Write([]byte("raw bytes"))
	buf := make([]byte, 64)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := nc.Read(buf)
	fmt.Println(string(buf[:n]), err)
	// Output: raw bytes <nil>
}

// echo is an engine.Handler that sends back what it reads.
type echo struct{ engine.BaseHandler }

func (echo) OnData(c engine.Conn) error {
	b, _ := c.Next(-1)
	c.Write(b)
	return nil
}

func ExampleParseMode() {
	m, err := kcp.ParseMode("normal")
	fmt.Println(m, err)
	_, err = kcp.ParseMode("turbo")
	fmt.Println(err)
	// Output:
	// normal <nil>
	// kcp: unknown mode: "turbo" (want default, normal or fast)
}

// KCPStats shows what the gate in front of kcp-go dropped.
func ExampleTransport_KCPStats() {
	tr, _ := kcp.Listen("udp://127.0.0.1:0", kcp.Config{Logger: quiet}, engine.BaseHandler{})
	defer tr.Shutdown(context.Background())
	uc, _ := net.Dial("udp", tr.Addr().String())
	defer uc.Close()
	uc.Write([]byte("not kcp"))
	for tr.KCPStats().DatagramsIn == 0 {
		time.Sleep(time.Millisecond)
	}
	st := tr.KCPStats()
	fmt.Println(st.Garbage, st.Sessions)
	// Output: 1 0
}
