package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"wharf/internal/testkit"

	"wharf/engine"
	"wharf/packet"
)

// Test codes.
const (
	codeEcho    = 10 // reply with the body
	codeBlock   = 11 // wait for the test to release, then reply
	codePanic   = 12
	codePush    = 13 // body: count as uint32; pushes that many 1 KiB packets (code 20)
	codeLogin   = 14 // marks the connection logged in
	codePushed  = 20
	codeUnknown = 99
)

type app struct {
	release chan struct{} // codeBlock waits on it
	blocked chan *Request // codeBlock announces itself
	sendErr chan error    // codeBlock reports its reply error
}

func newApp() (*app, *Router) {
	a := &app{release: make(chan struct{}), blocked: make(chan *Request, 100), sendErr: make(chan error, 100)}
	rt := NewRouter()
	rt.HandleFunc(codeEcho, func(r *Request) { r.Reply(r.Body) })
	rt.HandleFunc(codeBlock, func(r *Request) {
		a.blocked <- r
		<-a.release
		a.sendErr <- r.Reply([]byte("late"))
	})
	rt.HandleFunc(codePanic, func(r *Request) { panic("handler bug") })
	rt.HandleFunc(codePush, func(r *Request) {
		n := binary.BigEndian.Uint32(r.Body)
		body := make([]byte, 1024)
		for range n {
			if r.Conn.Send(codePushed, body) != nil {
				return
			}
		}
	})
	rt.HandleFunc(codeLogin, func(r *Request) { r.Conn.SetValue("user"); r.Reply(nil) })
	return a, rt
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t testing.TB, cfg Config, rt *Router) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Engine.Loops == 0 {
		cfg.Engine.Loops = 2
	}
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = -1
	}
	s, err := New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, a.String()
}

type client struct {
	t  *testing.T
	nc net.Conn
	r  *packet.Reader
}

func dialClient(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: packet.NewReader(nc)}
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

// expectClosed reads until the server closes the connection, skipping the
// packets it sends first, and fails if it stays open.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.r.ReadPacket()
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.t.Fatal("connection still open, want it closed by the server")
		}
		return
	}
}

var eventually = testkit.Eventually

func TestPingAndEcho(t *testing.T) {
	_, rt := newApp()
	_, addr := startServer(t, Config{}, rt)
	c := dialClient(t, addr)
	c.send(packet.CodePing, nil)
	if code, body := c.recv(); code != packet.CodePing || len(body) != 0 {
		t.Fatalf("ping reply: code %d body %q", code, body)
	}
	c.send(codeEcho, []byte("hello"))
	if code, body := c.recv(); code != codeEcho || string(body) != "hello" {
		t.Fatalf("echo reply: code %d body %q", code, body)
	}
}

func TestUnknownCode(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{}, rt)
	c := dialClient(t, addr)
	c.send(codeUnknown, []byte("?"))
	code, body := c.recv()
	var e struct {
		Code  uint16
		Error string
	}
	if code != packet.CodeError || json.Unmarshal(body, &e) != nil || e.Code != codeUnknown || !strings.Contains(e.Error, "unknown code 99") {
		t.Fatalf("got code %d body %s, want a code 1 error naming code 99", code, body)
	}
	if s.Stats().Unknown != 1 {
		t.Fatal("unknown code not counted")
	}
}

func TestPerConnectionOrder(t *testing.T) {
	_, rt := newApp()
	_, addr := startServer(t, Config{Handlers: 8}, rt)
	c := dialClient(t, addr)
	var all bytes.Buffer
	for i := range 100 {
		p, _ := packet.Encode(codeEcho, []byte(fmt.Sprint(i)))
		all.Write(p)
	}
	c.nc.Write(all.Bytes()) // 100 requests in one write
	for i := range 100 {
		if _, body := c.recv(); string(body) != fmt.Sprint(i) {
			t.Fatalf("reply %d was %q: order not kept", i, body)
		}
	}
}

func TestSlowHandlerDoesNotBlockOthers(t *testing.T) {
	a, rt := newApp()
	_, addr := startServer(t, Config{Handlers: 2}, rt)
	slow := dialClient(t, addr)
	fast := dialClient(t, addr)
	slow.send(codeBlock, nil)
	<-a.blocked // a worker is now stuck in slow's handler
	for i := range 20 {
		fast.send(codeEcho, []byte{byte(i)})
		if _, body := fast.recv(); body[0] != byte(i) {
			t.Fatal("wrong reply")
		}
	}
	// slow's next request waits behind its first (order), not others.
	slow.send(codeEcho, []byte("after"))
	close(a.release)
	if _, body := slow.recv(); string(body) != "late" {
		t.Fatalf("got %q, want the blocked handler's reply first", body)
	}
	if _, body := slow.recv(); string(body) != "after" {
		t.Fatalf("got %q", body)
	}
}

func TestOverloaded(t *testing.T) {
	isOverloaded := func(code uint16, body []byte, req int) bool {
		return code == packet.CodeError && strings.Contains(string(body), "overloaded") &&
			strings.Contains(string(body), fmt.Sprintf(`"code":%d`, req))
	}
	t.Run("answered in order behind pending replies", func(t *testing.T) {
		a, rt := newApp()
		s, addr := startServer(t, Config{Handlers: 1, HandlerQueue: 3}, rt)
		c := dialClient(t, addr)
		c.send(codeBlock, nil)
		<-a.blocked // the only worker is busy
		for range 5 {
			c.send(codeEcho, []byte("q"))
		}
		eventually(t, "3 queued and 2 refused", func() bool {
			st := s.Stats()
			return st.HandlerQueue == 3 && st.Overloaded == 2
		})
		close(a.release)
		// 3 fit in the queue, 2 are refused; the refusals come after the
		// replies to the requests sent before them, never ahead of them.
		if _, body := c.recv(); string(body) != "late" {
			t.Fatalf("got %q", body)
		}
		for range 3 {
			if code, body := c.recv(); code != codeEcho || string(body) != "q" {
				t.Fatalf("queued request answered with code %d %q", code, body)
			}
		}
		for range 2 {
			if code, body := c.recv(); !isOverloaded(code, body, codeEcho) {
				t.Fatalf("got code %d %s, want overloaded error for code 10", code, body)
			}
		}
	})
	t.Run("an idle connection is answered at once", func(t *testing.T) {
		a, rt := newApp()
		s, addr := startServer(t, Config{Handlers: 1, HandlerQueue: 1}, rt)
		busy := dialClient(t, addr)
		busy.send(codeBlock, nil)
		<-a.blocked
		busy.send(codeEcho, []byte("fills the queue"))
		eventually(t, "queue full", func() bool { return s.Stats().HandlerQueue == 1 })
		idle := dialClient(t, addr)
		idle.send(codeEcho, []byte("x"))
		if code, body := idle.recv(); !isOverloaded(code, body, codeEcho) {
			t.Fatalf("got code %d %s", code, body)
		}
		close(a.release)
	})
	t.Run("a connection that keeps piling up is kicked", func(t *testing.T) {
		a, rt := newApp()
		s, addr := startServer(t, Config{Handlers: 1, HandlerQueue: 100, MaxQueuedPerConn: 4}, rt)
		c := dialClient(t, addr)
		c.send(codeBlock, nil)
		<-a.blocked
		var burst bytes.Buffer
		for range 20 {
			p, _ := packet.Encode(codeEcho, []byte("x"))
			burst.Write(p)
		}
		c.nc.Write(burst.Bytes())
		eventually(t, "kick", func() bool { return s.Stats().Kicks[KickFlood] == 1 })
		close(a.release)
	})
}

func rawHeader(length, code uint16, crc uint32) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, length)
	binary.BigEndian.PutUint16(b[2:], code)
	binary.BigEndian.PutUint32(b[4:], crc)
	return b
}

func TestHostileInput(t *testing.T) {
	good, _ := packet.Encode(codeEcho, []byte("ok"))
	badCRC := append(rawHeader(10, codeEcho, 12345), 'o', 'k')
	tests := []struct {
		name  string
		input []byte
		kick  Kick
	}{
		{"length below header", rawHeader(7, codeEcho, 0), KickFraming},
		{"length zero", rawHeader(0, codeEcho, 0), KickFraming},
		{"length above max_packet", rawHeader(20000, codeEcho, 0), KickFraming},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), KickFraming},
		{"three bad checksums", bytes.Repeat(badCRC, 3), KickBadCRC},
		{"empty body with a checksum", append(append([]byte{}, good...), bytes.Repeat(rawHeader(8, codeEcho, 1), 3)...), KickBadCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rt := newApp()
			s, addr := startServer(t, Config{}, rt)
			bystander := dialClient(t, addr)
			c := dialClient(t, addr)
			c.nc.Write(tt.input)
			c.expectClosed()
			eventually(t, "kick counted", func() bool { return s.Stats().Kicks[tt.kick] == 1 })
			bystander.send(codeEcho, []byte("still"))
			if _, body := bystander.recv(); string(body) != "still" {
				t.Fatal("other client not served")
			}
		})
	}
}

func TestBadChecksumDropsOnlyThatPacket(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{}, rt)
	c := dialClient(t, addr)
	bad := append(rawHeader(10, codeEcho, 1), 'n', 'o')
	good, _ := packet.Encode(codeEcho, []byte("yes"))
	c.nc.Write(append(append(append([]byte{}, good...), bad...), good...))
	for range 2 {
		if _, body := c.recv(); string(body) != "yes" {
			t.Fatalf("got %q", body)
		}
	}
	if st := s.Stats(); st.BadPackets != 1 || st.Kicks[KickBadCRC] != 0 {
		t.Fatalf("BadPackets = %d, bad_crc kicks = %d; want 1 and 0", st.BadPackets, st.Kicks[KickBadCRC])
	}
}

// TestFloodInterval: seed 002's rule, flood_mode = "interval".
func TestFloodInterval(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	_, rt := newApp()
	s, addr := startServer(t, Config{FloodMode: FloodByInterval, FloodInterval: 100 * time.Millisecond, FloodCount: 10, Clock: clock.Now, IdleTimeout: time.Hour}, rt)

	// Packets 150ms apart are fine, however many.
	calm := dialClient(t, addr)
	for range 30 {
		calm.send(packet.CodePing, nil)
		calm.recv()
		clock.Add(150 * time.Millisecond)
	}
	// Ten in a row, each less than 100ms after the previous: kicked.
	flood := dialClient(t, addr)
	for i := range 10 {
		flood.send(packet.CodePing, nil)
		if i < 9 {
			flood.recv()
		}
		clock.Add(10 * time.Millisecond)
	}
	flood.expectClosed()
	eventually(t, "flood kick", func() bool { return s.Stats().Kicks[KickFlood] == 1 })
	calm.send(packet.CodePing, nil)
	calm.recv()
}

// TestFloodBucket: the default guard serves the clients SPEC §3 names and
// kicks a connection that floods. Each client sends pings; the clock moves
// by the client's interval after each, so every case is exact.
func TestFloodBucket(t *testing.T) {
	tests := []struct {
		name     string
		every    time.Duration // clock step after each burst
		burst    int           // packets sent at once
		bursts   int
		kickedBy int // packets after which the kick must have come; 0: never kicked
	}{
		{name: "60 Hz game client for a minute", every: time.Second / 60, burst: 1, bursts: 3600},
		{name: "pipelining 100 requests, 20 times a second", every: 50 * time.Millisecond, burst: 100, bursts: 60},
		{name: "closed loop at 2,000/s for 5 s", every: time.Second / 2000, burst: 1, bursts: 10000},
		{name: "flood at 20,000/s", every: time.Second / 20000, burst: 1, bursts: 20000, kickedBy: 7000},
		{name: "a burst of 6,000 at once", every: time.Second, burst: 6000, bursts: 1, kickedBy: 6000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
			_, rt := newApp()
			s, addr := startServer(t, Config{Clock: clock.Now, IdleTimeout: time.Hour}, rt)
			c := dialClient(t, addr)
			var batch []byte
			for range tt.burst {
				batch, _ = packet.Append(batch, packet.CodePing, nil)
			}
			sent := 0
			for range tt.bursts {
				if _, err := c.nc.Write(batch); err != nil {
					break // closed by the kick
				}
				sent += tt.burst
				answered := true
				for range tt.burst {
					c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, _, err := c.r.ReadPacket(); err != nil {
						answered = false
						break
					}
				}
				if !answered {
					break
				}
				clock.Add(tt.every)
			}
			kicks := s.Stats().Kicks[KickFlood]
			if tt.kickedBy == 0 {
				if kicks != 0 || sent != tt.burst*tt.bursts {
					t.Fatalf("an honest client was kicked after %d packets", sent)
				}
				return
			}
			eventually(t, "flood kick", func() bool { return s.Stats().Kicks[KickFlood] == 1 })
			if sent > tt.kickedBy {
				t.Fatalf("kicked only after %d packets, want by %d", sent, tt.kickedBy)
			}
		})
	}
}

func TestSlowReaderKicked(t *testing.T) {
	_, rt := newApp()
	cfg := Config{MaxPendingPerConn: 50}
	cfg.Engine.SocketSendBuffer = 8192
	s, addr := startServer(t, cfg, rt)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { setRecvBuffer(fd, 4096) })
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	body := make([]byte, 4)
	binary.BigEndian.PutUint32(body, 5000)
	packet.WritePacket(nc, codePush, body) // asks for 5000 pushes, never reads
	eventually(t, "slow reader kick", func() bool { return s.Stats().Kicks[KickSlowReader] == 1 })
	eventually(t, "send queue drained", func() bool { return s.Stats().SendQueue == 0 })
}

func TestSendQueueTotalLimitDrops(t *testing.T) {
	_, rt := newApp()
	cfg := Config{MaxPendingTotal: 20, MaxPendingPerConn: 100000}
	cfg.Engine.SocketSendBuffer = 8192
	s, addr := startServer(t, cfg, rt)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { setRecvBuffer(fd, 4096) })
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	body := make([]byte, 4)
	binary.BigEndian.PutUint32(body, 500)
	packet.WritePacket(nc, codePush, body)
	eventually(t, "drops counted", func() bool { return s.Stats().Dropped > 0 })
	if s.Stats().Kicks[KickSlowReader] != 0 {
		t.Fatal("the total limit must drop packets, not kick")
	}
}

func TestIdleKick(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{IdleTimeout: 150 * time.Millisecond}, rt)
	alive := dialClient(t, addr)
	silent := dialClient(t, addr)
	partial := dialClient(t, addr)
	partial.nc.Write([]byte{0, 20}) // bytes, but never a whole packet
	start := time.Now()
	for time.Since(start) < 400*time.Millisecond {
		alive.send(packet.CodePing, nil)
		alive.recv()
		time.Sleep(40 * time.Millisecond)
	}
	silent.expectClosed()
	partial.expectClosed()
	eventually(t, "idle kicks", func() bool { return s.Stats().Kicks[KickIdle] == 2 })
	alive.send(codeEcho, []byte("alive"))
	if _, body := alive.recv(); string(body) != "alive" {
		t.Fatal("pinging client was kicked")
	}
}

func TestConnectionLimitKick(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{MaxConnections: 3}, rt)
	for range 3 {
		c := dialClient(t, addr)
		c.send(packet.CodePing, nil)
		c.recv()
	}
	extra := dialClient(t, addr)
	extra.expectClosed()
	if s.Stats().Kicks[KickLimit] != 1 {
		t.Fatalf("limit kicks = %d, want 1", s.Stats().Kicks[KickLimit])
	}
}

// TestReplyNeverReachesAnotherConnection is seed 002's sequence check: a
// reply for a connection that closed must not be written to a new
// connection that got the same descriptor.
func TestReplyNeverReachesAnotherConnection(t *testing.T) {
	a, rt := newApp()
	_, addr := startServer(t, Config{Engine: engine.Config{Loops: 1}}, rt)
	for range 5 {
		old := dialClient(t, addr)
		old.send(codeBlock, nil)
		req := <-a.blocked
		old.nc.Close()
		eventually(t, "old closed", func() bool { return req.Conn.Closed() })
		fresh := dialClient(t, addr)
		fresh.send(packet.CodePing, nil)
		fresh.recv() // registered, likely on the old descriptor
		a.release <- struct{}{}
		if err := <-a.sendErr; err != ErrClosed {
			t.Fatalf("reply to a closed connection: err %v, want ErrClosed", err)
		}
		fresh.send(codeEcho, []byte("mine"))
		if code, body := fresh.recv(); code != codeEcho || string(body) != "mine" {
			t.Fatalf("new connection received code %d %q: another connection's reply leaked", code, body)
		}
	}
}

func TestBroadcast(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{}, rt)
	var in []*client
	for range 3 {
		c := dialClient(t, addr)
		c.send(codeLogin, nil)
		c.recv()
		in = append(in, c)
	}
	out := dialClient(t, addr)
	out.send(packet.CodePing, nil)
	out.recv()
	n, err := s.Broadcast(8, []byte(`{"text":"hi"}`), func(c *Conn) bool { return c.Value() != nil })
	if err != nil || n != 3 {
		t.Fatalf("Broadcast = %d, %v; want 3", n, err)
	}
	for _, c := range in {
		if code, body := c.recv(); code != 8 || string(body) != `{"text":"hi"}` {
			t.Fatalf("got %d %s", code, body)
		}
	}
	out.send(codeEcho, []byte("x"))
	if code, _ := out.recv(); code != codeEcho {
		t.Fatalf("a connection outside the filter got code %d", code)
	}
}

func TestHandlerPanicRepliesError(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{}, rt)
	c := dialClient(t, addr)
	c.send(codePanic, nil)
	if code, body := c.recv(); code != packet.CodeError || !strings.Contains(string(body), "internal error") {
		t.Fatalf("got %d %s", code, body)
	}
	c.send(codeEcho, []byte("ok"))
	if _, body := c.recv(); string(body) != "ok" {
		t.Fatal("connection unusable after a handler panic")
	}
	if s.Stats().Panics != 1 {
		t.Fatal("panic not counted")
	}
}

func TestStatsLine(t *testing.T) {
	var buf syncBuffer
	_, rt := newApp()
	cfg := Config{StatsInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	_, addr := startServer(t, cfg, rt)
	c := dialClient(t, addr)
	c.send(packet.CodePing, nil)
	c.recv()
	eventually(t, "stats line", func() bool {
		s := buf.String()
		return strings.Contains(s, "msg=stats") && strings.Contains(s, "online=1/65536") && strings.Contains(s, "kicks=\"idle=0 flood=0")
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestShutdownAnswersInFlightAndTellsClients(t *testing.T) {
	a, rt := newApp()
	s, err := New(Config{Logger: quietLogger(), StatsInterval: -1}, rt)
	if err != nil {
		t.Fatal(err)
	}
	ad, _ := s.Listen("tcp://127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	eventually(t, "serving", func() bool {
		nc, err := net.Dial("tcp", ad.String())
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
	c := dialClient(t, ad.String())
	c.send(codeBlock, nil)
	<-a.blocked
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown is waiting for the handler
	close(a.release)
	if _, body := c.recv(); string(body) != "late" {
		t.Fatalf("in-flight request lost in shutdown: got %q", body)
	}
	if code, body := c.recv(); code != packet.CodeError || !strings.Contains(string(body), "shutting down") {
		t.Fatalf("got %d %s, want the shutdown notice", code, body)
	}
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve = %v", err)
	}
}

func TestSoak(t *testing.T) {
	conns, rounds := 2000, 20
	if testing.Short() {
		conns, rounds = 200, 10
	}
	_, rt := newApp()
	s, addr := startServer(t, Config{Engine: engine.Config{Loops: 2}, FloodMode: FloodOff}, rt)
	var wg sync.WaitGroup
	var failures atomic.Int32
	var firstErr atomic.Value
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	dials := make(chan struct{}, 200) // connections are held together, but opened 200 at a time
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dials <- struct{}{}
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			<-dials
			if err != nil {
				fail(err)
				return
			}
			defer nc.Close()
			r := packet.NewReader(nc)
			for j := range rounds {
				var code uint16 = codeEcho
				body := []byte(fmt.Sprintf("%d-%d", i, j))
				if j%3 == 0 {
					code, body = packet.CodePing, nil
				}
				if err := packet.WritePacket(nc, code, body); err != nil {
					fail(err)
					return
				}
				nc.SetReadDeadline(time.Now().Add(20 * time.Second))
				gc, gb, err := r.ReadPacket()
				if err != nil {
					fail(err)
					return
				}
				if gc != code || !bytes.Equal(gb, body) {
					fail(fmt.Errorf("client %d round %d: got code %d %q, want %d %q", i, j, gc, gb, code, body))
					return
				}
			}
		}()
	}
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d clients failed; first error: %v", f, conns, firstErr.Load())
	}
	st := s.Stats()
	if want := uint64(conns * rounds); st.PacketsIn != want || st.PacketsOut != want {
		t.Fatalf("packets in/out = %d/%d, want %d each", st.PacketsIn, st.PacketsOut, want)
	}
}

// TestMaxConnectionsPerIP: one source address holds at most
// MaxConnectionsPerIP connections; the next gets a code 1 notice and is
// closed (kick source_limit), another address is not affected, and a
// closed connection gives its slot back.
func TestMaxConnectionsPerIP(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{MaxConnectionsPerIP: 3}, rt)
	dialFrom := func(src string) *client {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return &client{t: t, nc: nc, r: packet.NewReader(nc)}
	}
	var held []*client
	for range 3 {
		c := dialFrom("127.0.0.1")
		c.send(packet.CodePing, nil)
		c.recv()
		held = append(held, c)
	}
	over := dialFrom("127.0.0.1")
	code, body := over.recv()
	if code != packet.CodeError || !strings.Contains(string(body), "too many connections from your address") {
		t.Fatalf("4th connection got code %d %s, want the code 1 notice", code, body)
	}
	over.expectClosed()
	if n := s.Stats().Kicks[KickSourceLimit]; n != 1 {
		t.Fatalf("source_limit kicks = %d, want 1", n)
	}
	other := dialFrom("127.0.0.2")
	other.send(packet.CodePing, nil)
	other.recv()
	held[0].nc.Close()
	eventually(t, "the slot given back", func() bool { return s.Online() == 3 })
	again := dialFrom("127.0.0.1")
	again.send(packet.CodePing, nil)
	if code, _ := again.recv(); code != packet.CodePing {
		t.Fatalf("after a close, a new connection got code %d, want served", code)
	}
}
