package kcp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"
)

// Dial opens a client session to a KCP server at addr ("udp://host:port",
// "udp4://…", "udp6://…", "kcp://host:port" or "host:port", in package
// endpoint's syntax) on a new UDP socket, with a random
// conv. KCP has no handshake: Dial returns once the name is resolved and the
// socket open, and the first Write starts the conversation; an unreachable
// server shows as Reads that time out. ctx bounds the name resolution.
//
// The session's Read never returns io.EOF: KCP has no close handshake, so a
// server that closed the session is silent (use read deadlines or the packet
// protocol's heartbeat). Close sends what is queued once and releases the
// socket 20 ms later; data the server has not acknowledged by then is lost,
// and a server that still had data for the session waits (a graceful close
// on the server lingers until its peer is silent for 2 s).
//
// It fits client.Config.Dialer:
//
//	func(ctx context.Context, network, addr string) (net.Conn, error) {
//		return kcp.Dial(ctx, addr, cfg)
//	}
func Dial(ctx context.Context, addr string, cfg Config) (net.Conn, error) {
	a, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNetwork(a.Network()), a.Host)
	if err != nil {
		return nil, fmt.Errorf("kcp: dial %s: %w", addr, err)
	}
	raddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), a.Port))
	local := "udp4"
	if !ips[0].Unmap().Is4() {
		local = "udp6"
	}
	uc, err := net.ListenUDP(local, nil)
	if err != nil {
		return nil, fmt.Errorf("kcp: dial %s: %w", addr, err)
	}
	c, err := DialPacketConn(ctx, uc, raddr, cfg)
	if err != nil {
		uc.Close()
		return nil, err
	}
	return c, nil
}

func ipNetwork(udp string) string {
	switch udp {
	case "udp4":
		return "ip4"
	case "udp6":
		return "ip6"
	}
	return "ip"
}

// DialPacketConn opens a client session to raddr over pc (tests pass a
// lossy wrapper; see package lossy). The session takes ownership of pc:
// Close closes it (shortly after: see Close). pc must carry only this
// session's traffic. Otherwise as Dial.
func DialPacketConn(ctx context.Context, pc net.PacketConn, raddr net.Addr, cfg Config) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	block, _, err := cfg.crypto()
	if err != nil {
		return nil, err
	}
	setSocketBuffers(pc, cfg.SocketBuffer)
	var b [4]byte
	rand.Read(b[:])
	// The session does not own pc: Close releases it a little later (see
	// clientConn.Close).
	s, err := kcpgo.NewConn4(binary.LittleEndian.Uint32(b[:]), raddr, block, cfg.DataShards, cfg.ParityShards, false, pc)
	if err != nil {
		return nil, fmt.Errorf("kcp: %w", err)
	}
	cfg.configure(s)
	return &clientConn{s: s, pc: pc}, nil
}

// clientConn adapts a kcp-go session to the net.Conn conventions of the
// standard library: timeouts are os.ErrDeadlineExceeded, use after Close is
// net.ErrClosed, both inside a *net.OpError; a deadline already past fails
// Read and Write even when they could proceed.
type clientConn struct {
	s      *kcpgo.UDPSession
	pc     net.PacketConn // the session's socket, owned
	rd, wd atomic.Int64   // deadlines, UnixNano (0: none)
	closed atomic.Bool
}

func (c *clientConn) Read(b []byte) (int, error) {
	if err := c.check("read", &c.rd); err != nil {
		return 0, err
	}
	n, err := c.s.Read(b)
	if err != nil {
		return n, c.wrap("read", err)
	}
	return n, nil
}

func (c *clientConn) Write(b []byte) (int, error) {
	if err := c.check("write", &c.wd); err != nil {
		return 0, err
	}
	n, err := c.s.Write(b)
	if err != nil {
		return n, c.wrap("write", err)
	}
	return n, nil
}

func (c *clientConn) check(op string, d *atomic.Int64) error {
	if c.closed.Load() {
		return c.opError(op, net.ErrClosed)
	}
	if t := d.Load(); t != 0 && time.Now().UnixNano() >= t {
		return c.opError(op, os.ErrDeadlineExceeded)
	}
	return nil
}

func (c *clientConn) wrap(op string, err error) error {
	var ne net.Error
	switch {
	case c.closed.Load() || errors.Is(err, io.ErrClosedPipe):
		err = net.ErrClosed
	case errors.As(err, &ne) && ne.Timeout():
		err = os.ErrDeadlineExceeded
	}
	return c.opError(op, err)
}

func (c *clientConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "kcp", Source: c.s.LocalAddr(), Addr: c.s.RemoteAddr(), Err: err}
}

// closeGrace is how long the socket outlives a closed session: kcp-go
// hands its last datagrams (typically the ACK of the last reply, without
// which the server would wait for it) to an output goroutine, which needs
// the socket open to send them.
const closeGrace = 20 * time.Millisecond

// Close flushes what is queued once, closes the session at once (Read and
// Write fail with net.ErrClosed) and the socket closeGrace later.
func (c *clientConn) Close() error {
	if c.closed.Swap(true) {
		return c.opError("close", net.ErrClosed)
	}
	c.s.Close()
	time.AfterFunc(closeGrace, func() { c.pc.Close() })
	return nil
}

func (c *clientConn) LocalAddr() net.Addr  { return c.s.LocalAddr() }
func (c *clientConn) RemoteAddr() net.Addr { return c.s.RemoteAddr() }

func (c *clientConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *clientConn) SetReadDeadline(t time.Time) error {
	c.rd.Store(unixNano(t))
	return c.s.SetReadDeadline(t)
}

func (c *clientConn) SetWriteDeadline(t time.Time) error {
	c.wd.Store(unixNano(t))
	return c.s.SetWriteDeadline(t)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}
