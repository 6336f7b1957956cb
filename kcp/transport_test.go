package kcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"wharf/internal/testkit"

	"go.uber.org/goleak"

	"wharf/engine"
	"wharf/kcp/lossy"
	"wharf/packet"
	"wharf/server"
)

// TestEcho runs request/reply over every mode and option set.
func TestEcho(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"fast", Config{Mode: ModeFast}},
		{"normal", Config{Mode: ModeNormal}},
		{"default", Config{Mode: ModeDefault}},
		{"small windows and mtu", Config{SendWindow: 8, RecvWindow: 8, MTU: 576}},
		{"fec", Config{DataShards: 10, ParityShards: 3}},
		{"encrypted", Config{Key: "correct horse battery staple"}},
		{"encrypted with fec", Config{Key: "k", DataShards: 4, ParityShards: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{kcp: tt.cfg})
			c := e.dial(tt.cfg, nil)
			for i := range 20 {
				body := bytes.Repeat([]byte{byte(i)}, 1+i*300) // up to ~6 KB: several segments
				if code, got := c.call(codeEcho, body); code != codeEcho || !bytes.Equal(got, body) {
					t.Fatalf("request %d: code %d, %d bytes back, want the %d sent", i, code, len(got), len(body))
				}
			}
			if st := e.tr.Stats(); st.Open != 1 || st.Accepted != 1 {
				t.Fatalf("Open %d Accepted %d, want 1 and 1", st.Open, st.Accepted)
			}
		})
	}
}

// TestLossyConversation pipelines thousands of requests through a path that
// drops 15% of datagrams each way, reorders and duplicates some, and checks
// that every reply arrives, in order.
func TestLossyConversation(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	for _, mode := range []Mode{ModeFast, ModeNormal, ModeDefault} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := Config{Mode: mode}
			serverPath := lossy.Config{Loss: 0.15, Reorder: 0.1, Duplicate: 0.05, Seed: 1}
			clientPath := lossy.Config{Loss: 0.15, Reorder: 0.1, Duplicate: 0.05, Seed: 2}
			e := newEnv(t, envOpts{kcp: cfg, lossy: &serverPath})
			c := e.dial(cfg, &clientPath)
			window := make(chan struct{}, 64) // under the server's MaxQueuedPerConn
			sendErr := make(chan error, 1)
			go func() {
				body := make([]byte, 8)
				for i := range n {
					window <- struct{}{}
					binary.BigEndian.PutUint64(body, uint64(i))
					if err := packet.WritePacket(c.nc, codeEcho, body); err != nil {
						sendErr <- err
						return
					}
				}
				sendErr <- nil
			}()
			for i := range n {
				c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
				code, body, err := c.r.ReadPacket()
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				if code != codeEcho || len(body) != 8 || binary.BigEndian.Uint64(body) != uint64(i) {
					t.Fatalf("reply %d: code %d body %x, want echo of %d", i, code, body, i)
				}
				<-window
			}
			if err := <-sendErr; err != nil {
				t.Fatal(err)
			}
			if e.tr.KCPStats().Retransmits == 0 {
				t.Fatal("no retransmissions counted through a 15% lossy path")
			}
		})
	}
}

// echoHandler is a bare engine.Handler that echoes bytes.
type echoHandler struct {
	engine.BaseHandler
	opened, closed atomic.Int64
	mu             sync.Mutex
	reasons        []error
}

func (h *echoHandler) OnOpen(engine.Conn) { h.opened.Add(1) }
func (h *echoHandler) OnData(c engine.Conn) error {
	b, _ := c.Next(-1)
	c.Write(b)
	return nil
}
func (h *echoHandler) OnClose(_ engine.Conn, err error) {
	h.mu.Lock()
	h.reasons = append(h.reasons, err)
	h.mu.Unlock()
	h.closed.Add(1)
}

// TestLossyStream sends a megabyte through the lossy path to a byte echo and
// checks every byte comes back in order.
func TestLossyStream(t *testing.T) {
	size := 1 << 20
	if testing.Short() {
		size = 256 << 10
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &echoHandler{}
	tr, err := Serve(lossy.Wrap(pc, lossy.Config{Loss: 0.15, Reorder: 0.2, Duplicate: 0.1, Seed: 3}), Config{Logger: quietLogger()}, h)
	if err != nil {
		t.Fatal(err)
	}
	cpc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	nc, err := DialPacketConn(context.Background(), lossy.Wrap(cpc, lossy.Config{Loss: 0.15, Reorder: 0.2, Duplicate: 0.1, Seed: 4}), tr.Addr(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(want)
	go func() {
		for b := want; len(b) > 0; b = b[min(len(b), 1000):] {
			if _, err := nc.Write(b[:min(len(b), 1000)]); err != nil {
				return
			}
		}
	}()
	got := make([]byte, 0, size)
	buf := make([]byte, 4096)
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(got) < size {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("echoed stream differs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// TestIdleSessionsReaped checks that a session with no datagram for
// IdleTimeout is closed with engine.ErrIdleTimeout and its state freed,
// while a chatty one stays.
func TestIdleSessionsReaped(t *testing.T) {
	cfg := Config{IdleTimeout: 300 * time.Millisecond}
	e := newEnv(t, envOpts{kcp: cfg, server: server.Config{IdleTimeout: time.Hour}})
	alive := e.dial(cfg, nil)
	silent := e.dial(cfg, nil)
	silent.call(packet.CodePing, nil)
	start := time.Now()
	for time.Since(start) < time.Second {
		alive.call(packet.CodePing, nil)
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, "the silent session reaped", func() bool {
		return e.tr.KCPStats().Reaped == 1 && e.tr.Stats().Open == 1
	})
	if st := e.tr.KCPStats(); st.Sessions != 1 {
		t.Fatalf("table holds %d sessions, want 1", st.Sessions)
	}
	if st := e.tr.Stats(); st.ClosedBy[engine.ReasonIdle] != 1 {
		t.Fatalf("ClosedBy idle = %d, want 1", st.ClosedBy[engine.ReasonIdle])
	}
	if k := e.srv.Stats().Kicks[server.KickIdle]; k != 1 {
		t.Fatalf("server idle kicks = %d, want 1", k)
	}
	alive.call(packet.CodePing, nil)
}

// TestGarbageDropped sends datagrams that must not open sessions and checks
// each is dropped and counted under the right name.
func TestGarbageDropped(t *testing.T) {
	push := func(conv, sn uint32, data []byte) []byte {
		return seg(segHeader{conv: conv, cmd: cmdPush, wnd: 32, sn: sn}, data)
	}
	ping, _ := packet.Encode(packet.CodePing, nil)
	badCmd := push(5, 0, ping)
	badCmd[4] = 99
	longLen := push(5, 0, ping)
	binary.LittleEndian.PutUint32(longLen[20:], 100)
	random := make([]byte, 1200)
	rand.NewChaCha8([32]byte{5}).Read(random)
	random[4] = 0 // not a cmd, not an FEC type
	parity := make([]byte, 40)
	binary.LittleEndian.PutUint16(parity[4:], fecTypeParity)

	type counter func(KCPStats) uint64
	garbage := counter(func(s KCPStats) uint64 { return s.Garbage })
	strays := counter(func(s KCPStats) uint64 { return s.Strays })
	tests := []struct {
		name  string
		cfg   Config
		in    []byte
		count counter
	}{
		{"one byte", Config{}, []byte{1}, garbage},
		{"shorter than a header", Config{}, make([]byte, 23), garbage},
		{"unknown cmd", Config{}, badCmd, garbage},
		{"len beyond the datagram", Config{}, longLen, garbage},
		{"two conversations", Config{}, append(push(5, 0, ping), push(6, 1, ping)...), garbage},
		{"random bytes", Config{}, random, garbage},
		{"ack from nowhere", Config{}, seg(segHeader{conv: 5, cmd: cmdAck, sn: 9, una: 3}, nil), strays},
		{"push far beyond the window", Config{}, push(5, 100000, ping), strays},
		{"window probe from nowhere", Config{}, seg(segHeader{conv: 5, cmd: cmdWask}, nil), strays},
		{"plain push to an fec server", Config{DataShards: 2, ParityShards: 1}, push(5, 0, ping), garbage},
		{"fec parity from nowhere", Config{DataShards: 2, ParityShards: 1}, parity, strays},
		{"plain push to an encrypted server", Config{Key: "k"}, push(5, 0, ping), garbage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{kcp: tt.cfg})
			p := newRawPeer(t, e.addr(), 5)
			const n = 20
			for range n {
				p.send(tt.in)
			}
			eventually(t, "datagrams read", func() bool { return e.tr.KCPStats().DatagramsIn == n })
			st := e.tr.KCPStats()
			if got := tt.count(st); got != n {
				t.Fatalf("counted %d, want %d (stats %+v)", got, n, st)
			}
			if st.Sessions != 0 || e.tr.Stats().Accepted != 0 {
				t.Fatalf("sessions %d accepted %d, want none", st.Sessions, e.tr.Stats().Accepted)
			}
			if _, ok := p.recv(50 * time.Millisecond); ok {
				t.Fatal("the transport answered garbage")
			}
		})
	}
}

// TestConvMismatchDropped checks that nobody can reset or hijack a session
// by sending a new conversation from its address.
func TestConvMismatchDropped(t *testing.T) {
	e := newEnv(t, envOpts{})
	p := newRawPeer(t, e.addr(), 0xabc)
	ping, _ := packet.Encode(packet.CodePing, nil)
	p.send(seg(segHeader{conv: 0xabc, cmd: cmdPush, wnd: 32, sn: 0}, ping))
	eventually(t, "session", func() bool { return e.tr.Stats().Open == 1 })
	for range 10 {
		p.send(seg(segHeader{conv: 0xdef, cmd: cmdPush, wnd: 32, sn: 0}, ping))
	}
	eventually(t, "mismatches counted", func() bool { return e.tr.KCPStats().ConvMismatch == 10 })
	if st := e.tr.Stats(); st.Open != 1 || st.Accepted != 1 {
		t.Fatalf("Open %d Accepted %d, want the first session alone", st.Open, st.Accepted)
	}
}

// TestMaxSessions fills the table, checks that more sessions are refused
// and counted, then that a refused client gets in once idle ones are reaped
// (its kcp-go session keeps retransmitting its first segment).
func TestMaxSessions(t *testing.T) {
	cfg := Config{MaxSessions: 2, IdleTimeout: 400 * time.Millisecond}
	e := newEnv(t, envOpts{kcp: cfg, server: server.Config{IdleTimeout: time.Hour}})
	a, b := e.dial(cfg, nil), e.dial(cfg, nil)
	a.call(packet.CodePing, nil)
	b.call(packet.CodePing, nil)
	late := e.dial(cfg, nil)
	late.send(packet.CodePing, nil)
	eventually(t, "refusals counted", func() bool { return e.tr.KCPStats().Refused > 0 })
	if st := e.tr.Stats(); st.Open != 2 || st.Rejected == 0 {
		t.Fatalf("Open %d Rejected %d, want 2 and > 0", st.Open, st.Rejected)
	}
	if e.srv.Stats().Kicks[server.KickLimit] == 0 {
		t.Fatal("the server does not count the refusals as limit kicks")
	}
	// a and b fall silent and are reaped; late's retransmission opens its session.
	if code, _ := late.recv(); code != packet.CodePing {
		t.Fatalf("late client got code %d, want the ping reply", code)
	}
	if e.tr.KCPStats().Sessions > 2 {
		t.Fatal("table over MaxSessions")
	}
}

// TestFloodOfConversations floods the transport with datagrams carrying
// random conv ids, from a few sockets and from many, none of which answers
// (as forged source addresses cannot), and checks that the session table
// stays within MaxSessions, the rest is counted, and the heap does not
// grow with the flood. Without cookies the flood fills the table and is
// refused beyond it; with them (the default, under load) it stops at a
// quarter of the table, where every new address is challenged.
func TestFloodOfConversations(t *testing.T) {
	for _, mode := range []CookieMode{CookiesOff, CookiesUnderLoad} {
		t.Run(map[CookieMode]string{CookiesOff: "no cookies", CookiesUnderLoad: "cookies under load"}[mode], func(t *testing.T) {
			floodOfConversations(t, mode)
		})
	}
}

func floodOfConversations(t *testing.T, mode CookieMode) {
	total := 50000
	if testing.Short() {
		total = 10000
	}
	const maxSessions = 64
	cfg := Config{MaxSessions: maxSessions, IdleTimeout: time.Hour, Cookies: mode}
	e := newEnv(t, envOpts{kcp: cfg, server: server.Config{IdleTimeout: time.Hour}})
	ping, _ := packet.Encode(packet.CodePing, nil)
	rng := rand.New(rand.NewPCG(7, 8))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// A few sockets, random convs: one session each, the rest mismatches.
	few := make([]*rawPeer, 4)
	for i := range few {
		few[i] = newRawPeer(t, e.addr(), 0)
	}
	// Many sockets: more than MaxSessions.
	many := make([]*rawPeer, 3*maxSessions)
	for i := range many {
		many[i] = newRawPeer(t, e.addr(), 0)
	}
	for i := range total {
		var p *rawPeer
		if i%2 == 0 {
			p = few[i/2%len(few)]
		} else {
			p = many[i/2%len(many)]
		}
		p.send(seg(segHeader{conv: rng.Uint32(), cmd: cmdPush, wnd: 32, sn: 0}, ping))
		if i%256 == 0 {
			time.Sleep(time.Millisecond) // let the reader keep up; drops would only make the test weaker
		}
		if st := e.tr.KCPStats(); st.Sessions > maxSessions {
			t.Fatalf("after %d datagrams the table holds %d sessions, MaxSessions is %d", i, st.Sessions, maxSessions)
		}
	}
	time.Sleep(200 * time.Millisecond)
	st := e.tr.KCPStats()
	if st.Sessions > maxSessions || e.tr.Stats().Open > maxSessions {
		t.Fatalf("table %d, open %d: over MaxSessions %d", st.Sessions, e.tr.Stats().Open, maxSessions)
	}
	if mode == CookiesOff && (st.Refused == 0 || st.ConvMismatch == 0) {
		t.Fatalf("refused %d, mismatched %d: want both counted", st.Refused, st.ConvMismatch)
	}
	if mode == CookiesUnderLoad && (st.CookiesSent == 0 || st.Sessions > maxSessions/4 || st.Refused != 0) {
		t.Fatalf("cookies sent %d, table %d, refused %d: want the flood challenged at a quarter of the table", st.CookiesSent, st.Sessions, st.Refused)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Each kcp-go session costs about 100 KiB (its output channel alone is
	// 2048 entries); the bound leaves room for MaxSessions of them and
	// nothing proportional to the flood.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 32<<20 {
		t.Fatalf("heap grew by %d MiB during a flood of %d datagrams", grew>>20, total)
	}
	t.Logf("%d datagrams: %+v, heap %d -> %d KiB", total, st, before.HeapAlloc>>10, after.HeapAlloc>>10)
}

// TestShutdown checks that Shutdown closes every session with
// engine.ErrEngineClosed after its backlog is acknowledged, and that no
// goroutine of the transport or of kcp-go is left.
func TestShutdown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &echoHandler{}
	tr, err := Serve(pc, Config{Logger: quietLogger()}, h)
	if err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	for i := range 5 {
		nc, err := Dial(context.Background(), tr.Addr().String(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, nc)
		msg := []byte(fmt.Sprint("hello ", i))
		nc.Write(msg)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		if n, err := nc.Read(buf); err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo: %q, %v", buf[:n], err)
		}
	}
	// Leave a backlog in flight on every session.
	tr.Each(func(c engine.Conn) { c.Write(bytes.Repeat([]byte("x"), 50000)) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	readers := sync.WaitGroup{}
	for _, nc := range clients {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 4096)
			got := 0
			for got < 50000 {
				n, err := nc.Read(buf)
				if err != nil {
					t.Errorf("client read after %d bytes of the backlog: %v", got, err)
					return
				}
				got += n
			}
		}()
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	readers.Wait()
	if h.closed.Load() != 5 || tr.Stats().Open != 0 {
		t.Fatalf("closed %d, open %d: want 5 and 0", h.closed.Load(), tr.Stats().Open)
	}
	for _, err := range h.reasons {
		if err != engine.ErrEngineClosed {
			t.Fatalf("OnClose error %v, want ErrEngineClosed", err)
		}
	}
	if tr.Stats().ClosedBy[engine.ReasonShutdown] != 5 {
		t.Fatal("shutdown closes not counted")
	}
	for _, nc := range clients {
		nc.Close()
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestShutdownDeadPeers checks that a peer that never acknowledges holds a
// graceful close only as long as it stays silent, and that a short context
// forces the close.
func TestShutdownDeadPeers(t *testing.T) {
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	h := &echoHandler{}
	tr, err := Serve(pc, Config{Logger: quietLogger()}, h)
	if err != nil {
		t.Fatal(err)
	}
	p := newRawPeer(t, tr.Addr().(*net.UDPAddr), 9)
	p.send(seg(segHeader{conv: 9, cmd: cmdPush, wnd: 32}, []byte("hi")))
	eventually(t, "session", func() bool { return tr.Stats().Open == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := tr.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's deadline (the peer never acknowledges)", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Shutdown took %v after its context ended", d)
	}
	if h.closed.Load() != 1 {
		t.Fatal("session not closed")
	}
}

// TestEach checks that Each visits every open session under its callback
// lock.
func TestEach(t *testing.T) {
	e := newEnv(t, envOpts{})
	for range 3 {
		e.dial(Config{}, nil).call(packet.CodePing, nil)
	}
	var seen []uint64
	e.tr.Each(func(c engine.Conn) {
		seen = append(seen, c.ID())
		if c.InboundBuffered() != 0 { // a callback method: must be safe here
			t.Error("unconsumed input")
		}
	})
	if len(seen) != 3 {
		t.Fatalf("Each visited %d sessions, want 3", len(seen))
	}
	ids := map[uint64]bool{}
	for _, id := range seen {
		if id == 0 || ids[id] {
			t.Fatalf("session ids %v: zero or repeated", seen)
		}
		ids[id] = true
	}
	n, err := e.srv.Broadcast(codePushed, []byte("all"), nil)
	if err != nil || n != 3 {
		t.Fatalf("Broadcast reached %d, %v; want 3", n, err)
	}
}

// TestKicksLikeTCP checks that the server's kick reasons come out the same
// over KCP as over its TCP engine.
func TestKicksLikeTCP(t *testing.T) {
	type step func(clk *testkit.Clock, send func([]byte))
	ping, _ := packet.Encode(packet.CodePing, nil)
	tests := []struct {
		name string
		cfg  server.Config
		act  step
		kick server.Kick
	}{
		{"flood", server.Config{FloodMode: server.FloodByInterval, FloodInterval: 100 * time.Millisecond, FloodCount: 10, IdleTimeout: time.Hour}, func(clk *testkit.Clock, send func([]byte)) {
			for range 10 {
				send(ping)
				time.Sleep(5 * time.Millisecond) // separate reads, as a client that waits a little
				clk.Add(10 * time.Millisecond)
			}
		}, server.KickFlood},
		{"idle", server.Config{IdleTimeout: 200 * time.Millisecond}, func(clk *testkit.Clock, send func([]byte)) {
			send(ping)
		}, server.KickIdle},
		{"framing", server.Config{IdleTimeout: time.Hour}, func(clk *testkit.Clock, send func([]byte)) {
			send([]byte{0, 7, 0, 10, 0, 0, 0, 0}) // length 7: below the header
		}, server.KickFraming},
	}
	for _, tt := range tests {
		for _, transport := range []string{"tcp", "kcp"} {
			t.Run(tt.name+"/"+transport, func(t *testing.T) {
				clk := testkit.NewClock(time.Unix(1_700_000_000, 0))
				cfg := tt.cfg
				cfg.Clock = clk.Now
				if tt.name == "idle" {
					cfg.Clock = nil // the idle deadline is a real-time deadline
				}
				e := newEnv(t, envOpts{server: cfg})
				var send func([]byte)
				var open func() int64
				if transport == "tcp" {
					a, err := e.srv.Listen("tcp://127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					nc, err := net.Dial("tcp", a.String())
					if err != nil {
						t.Fatal(err)
					}
					defer nc.Close()
					go func() {
						buf := make([]byte, 1024)
						for {
							if _, err := nc.Read(buf); err != nil {
								return
							}
						}
					}()
					send = func(b []byte) { nc.Write(b) }
					open = func() int64 { return e.srv.Engine().Stats().Open }
				} else {
					c := e.dial(Config{}, nil)
					go func() {
						buf := make([]byte, 1024)
						for {
							if _, err := c.nc.Read(buf); err != nil {
								return
							}
						}
					}()
					send = func(b []byte) { c.nc.Write(b) }
					open = func() int64 { return e.tr.Stats().Open }
				}
				tt.act(clk, send)
				eventually(t, "kick "+tt.kick.String(), func() bool { return e.srv.Stats().Kicks[tt.kick] == 1 })
				eventually(t, "connection closed", func() bool { return open() == 0 })
				st := e.srv.Stats()
				for k := range server.NumKicks {
					if k != tt.kick && st.Kicks[k] != 0 {
						t.Fatalf("also kicked for %v", k)
					}
				}
			})
		}
	}
}

// TestSlowReaderKicked checks MaxPendingPerConn over KCP: a client that asks
// for pushes and never reads closes its window, and the server kicks it.
func TestSlowReaderKicked(t *testing.T) {
	e := newEnv(t, envOpts{kcp: Config{Engine: engine.Config{MaxPendingPerConn: 50}}, server: server.Config{IdleTimeout: time.Hour}})
	c := e.dial(Config{RecvWindow: 16}, nil)
	body := make([]byte, 4)
	binary.BigEndian.PutUint32(body, 5000)
	c.send(codePush, body)
	eventually(t, "slow reader kick", func() bool { return e.srv.Stats().Kicks[server.KickSlowReader] == 1 })
	eventually(t, "send queue drained", func() bool { return e.srv.Stats().SendQueue == 0 })
}

// TestStopAccepting checks that open sessions are still served and new ones
// refused.
func TestStopAccepting(t *testing.T) {
	e := newEnv(t, envOpts{})
	old := e.dial(Config{}, nil)
	old.call(packet.CodePing, nil)
	e.tr.StopAccepting()
	late := e.dial(Config{}, nil)
	late.send(packet.CodePing, nil)
	eventually(t, "refused", func() bool { return e.tr.KCPStats().NotAccepting > 0 })
	if st := e.tr.KCPStats(); st.Refused != 0 || e.srv.Stats().Kicks[server.KickLimit] != 0 {
		t.Fatalf("refusals after StopAccepting counted as the session limit: %+v", st)
	}
	old.call(packet.CodePing, nil)
	late.silent(100 * time.Millisecond)
}

// TestKeyMismatch checks that a client with another key opens no session.
func TestKeyMismatch(t *testing.T) {
	e := newEnv(t, envOpts{kcp: Config{Key: "right"}})
	c := e.dial(Config{Key: "wrong"}, nil)
	c.send(packet.CodePing, nil)
	eventually(t, "garbage counted", func() bool { return e.tr.KCPStats().Garbage > 0 })
	c.silent(100 * time.Millisecond)
	if e.tr.Stats().Accepted != 0 {
		t.Fatal("a session was opened with the wrong key")
	}
}

// TestAsyncSendFile checks that a file range reaches the peer in order with
// the other writes, and that done runs.
func TestAsyncSendFile(t *testing.T) {
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	tr, err := Serve(pc, Config{Logger: quietLogger()}, &echoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	f, err := os.CreateTemp(t.TempDir(), "range")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("0123456789abcdef")
	nc, err := Dial(context.Background(), tr.Addr().String(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("<"))
	buf := make([]byte, 64)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	nc.Read(buf) // the echo of "<"
	done := make(chan error, 1)
	tr.Each(func(c engine.Conn) {
		if err := c.AsyncSendFile(f, 0, 4, nil); !errors.Is(err, engine.ErrNilDone) {
			t.Errorf("nil done: %v", err)
		}
		c.AsyncWrite([]byte("["), nil)
		if err := c.AsyncSendFile(f, 10, 6, func(_ engine.Conn, err error) { done <- err }); err != nil {
			t.Error(err)
		}
		c.AsyncWrite([]byte("]"), nil)
	})
	var got []byte
	for len(got) < 8 {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "[abcdef]" {
		t.Fatalf("got %q, want [abcdef]", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("done: %v", err)
	}
}
