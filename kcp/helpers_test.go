package kcp

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
	"wharf/internal/testkit"

	"wharf/kcp/lossy"
	"wharf/packet"
	"wharf/server"
)

// Test codes, as in the server's tests.
const (
	codeEcho   = 10 // reply with the body
	codePush   = 13 // body: count as uint32; pushes that many 1 KiB packets (code 20)
	codePushed = 20
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testRouter() *server.Router {
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
	return rt
}

// env is a wharf server with a KCP transport, shut down (before the
// clients close, so graceful closes are acknowledged) at the end of the test.
type env struct {
	t   *testing.T
	srv *server.Server
	tr  *Transport
	pc  net.PacketConn // the transport's socket (maybe a lossy wrapper)

	mu      sync.Mutex
	clients []io.Closer
}

type envOpts struct {
	server server.Config
	kcp    Config
	router *server.Router
	lossy  *lossy.Config // impair the server's sends
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.server.Logger == nil {
		o.server.Logger = quietLogger()
	}
	if o.server.StatsInterval == 0 {
		o.server.StatsInterval = -1
	}
	if o.server.FloodCount == 0 {
		o.server.FloodCount = -1
	}
	if o.server.Engine.Loops == 0 {
		o.server.Engine.Loops = 1
	}
	if o.kcp.Clock == nil {
		o.kcp.Clock = o.server.Clock // as wharfd wires them
	}
	if o.kcp.Logger == nil {
		o.kcp.Logger = quietLogger()
	}
	if o.router == nil {
		o.router = testRouter()
	}
	srv, err := server.New(o.server, o.router)
	if err != nil {
		t.Fatal(err)
	}
	var pc net.PacketConn
	pc, err = net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.lossy != nil {
		pc = lossy.Wrap(pc, *o.lossy)
	}
	tr, err := Serve(pc, o.kcp, srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	srv.Attach(tr)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, tr: tr, pc: pc}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, c := range e.clients {
			c.Close()
		}
	})
	return e
}

// addr is the transport's address.
func (e *env) addr() *net.UDPAddr { return e.tr.Addr().(*net.UDPAddr) }

// client is a KCP client speaking the packet protocol.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *packet.Reader
}

// dial opens a client session, through a lossy wrapper when lc is not nil.
func (e *env) dial(cfg Config, lc *lossy.Config) *client {
	e.t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	var nc net.Conn
	var err error
	if lc == nil {
		nc, err = Dial(context.Background(), e.addr().String(), cfg)
	} else {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			e.t.Fatal(err)
		}
		nc, err = DialPacketConn(context.Background(), lossy.Wrap(pc, *lc), e.addr(), cfg)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.clients = append(e.clients, nc)
	e.mu.Unlock()
	return &client{t: e.t, nc: nc, r: packet.NewReader(nc)}
}

func (c *client) send(code uint16, body []byte) {
	c.t.Helper()
	if err := packet.WritePacket(c.nc, code, body); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) recv() (uint16, []byte) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	code, body, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatalf("read packet: %v", err)
	}
	return code, append([]byte(nil), body...)
}

// call sends a request and returns the reply.
func (c *client) call(code uint16, body []byte) (uint16, []byte) {
	c.t.Helper()
	c.send(code, body)
	return c.recv()
}

// silent asserts that nothing arrives for d.
func (c *client) silent(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	if code, _, err := c.r.ReadPacket(); err == nil {
		c.t.Fatalf("got packet code %d, want silence", code)
	}
}

var eventually = testkit.Eventually
