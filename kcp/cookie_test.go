package kcp

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"wharf/packet"
)

// TestCookieWire follows a client through the cookie exchange byte by byte,
// as an ikcp client sees it: its first segment is answered with a PUSH of
// sn 0xFFFFFFFF, no payload and the cookie in ts; the client acknowledges
// it (echoing ts) as ikcp does for any sn below its window; its
// retransmitted first segment then opens the session and is answered.
func TestCookieWire(t *testing.T) {
	e := newEnv(t, envOpts{kcp: Config{Cookies: CookiesAlways}})
	p := newRawPeer(t, e.addr(), 0x5eed)
	ping, _ := packet.Encode(packet.CodePing, nil)
	first := seg(segHeader{conv: p.conv, cmd: cmdPush, wnd: 128, ts: 100, sn: 0}, ping)
	p.send(first)
	segs, ok := p.recv(5 * time.Second)
	if !ok || len(segs) != 1 {
		t.Fatalf("got %v, want one challenge segment", segs)
	}
	ch := segs[0].h
	if ch.cmd != cmdPush || ch.sn != cookieSn || ch.length != 0 || ch.conv != p.conv || ch.wnd == 0 {
		t.Fatalf("challenge %+v, want a PUSH sn 0xFFFFFFFF, no data, our conv, a window", ch)
	}
	if e.tr.KCPStats().Sessions != 0 {
		t.Fatal("a session was opened before the address proved itself")
	}
	// A wrong cookie is counted and changes nothing.
	p.send(seg(segHeader{conv: p.conv, cmd: cmdAck, wnd: 128, ts: ch.ts ^ 1, sn: cookieSn}, nil))
	eventually(t, "the bad cookie counted", func() bool { return e.tr.KCPStats().CookiesBad == 1 })
	p.send(first)
	if segs, ok := p.recv(5 * time.Second); !ok || segs[0].h.sn != cookieSn {
		t.Fatalf("after a bad cookie: %v, want another challenge", segs)
	}
	// The right one: then the retransmission opens the session.
	p.send(seg(segHeader{conv: p.conv, cmd: cmdAck, wnd: 128, ts: ch.ts, sn: cookieSn}, nil))
	eventually(t, "the cookie verified", func() bool { return e.tr.KCPStats().CookiesOK == 1 })
	p.send(first)
	var reply []byte
	deadline := time.Now().Add(5 * time.Second)
	for reply == nil && time.Now().Before(deadline) {
		segs, ok := p.recv(time.Second)
		if !ok {
			continue
		}
		for _, s := range segs {
			if s.h.cmd == cmdPush && s.h.sn == 0 {
				reply = s.data
			}
		}
	}
	if !bytes.Equal(reply, ping) {
		t.Fatalf("reply %x, want the ping answered once the session opened", reply)
	}
	if st := e.tr.KCPStats(); st.CookiesSent != 2 || st.Sessions != 1 {
		t.Fatalf("stats %+v, want 2 challenges and 1 session", st)
	}
}

// TestCookiesWithKcpGoClients: standard kcp-go clients get through the
// cookie exchange with no change on their side.
func TestCookiesWithKcpGoClients(t *testing.T) {
	e := newEnv(t, envOpts{kcp: Config{Cookies: CookiesAlways}})
	for range 3 {
		c := e.dial(Config{}, nil)
		if code, _ := c.call(packet.CodePing, nil); code != packet.CodePing {
			t.Fatalf("ping answered with code %d", code)
		}
	}
	if st := e.tr.KCPStats(); st.CookiesOK < 3 || st.Sessions != 3 {
		t.Fatalf("stats %+v, want 3 verified clients in 3 sessions", st)
	}
}

// TestForgedSessionFlood is the attack of a forged-address flood: first
// segments from addresses that never answer, at a rate that would fill the
// table within seconds, while honest clients keep connecting. The table
// never fills, nothing is refused, and every honest client is served.
func TestForgedSessionFlood(t *testing.T) {
	const maxSessions = 40
	e := newEnv(t, envOpts{kcp: Config{MaxSessions: maxSessions, IdleTimeout: time.Hour}})
	ping, _ := packet.Encode(packet.CodePing, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the forger: a new "address" (socket) and conv per datagram burst
		defer wg.Done()
		peers := make([]*rawPeer, 200)
		for i := range peers {
			peers[i] = newRawPeer(t, e.addr(), uint32(1000+i))
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := peers[i%len(peers)]
			p.uc.WriteToUDP(seg(segHeader{conv: uint32(i), cmd: cmdPush, wnd: 32, sn: 0}, ping), p.to)
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	eventually(t, "the flood challenged", func() bool { return e.tr.KCPStats().CookiesSent > 500 })
	for i := range 10 {
		c := e.dial(Config{}, nil)
		if code, _ := c.call(packet.CodePing, nil); code != packet.CodePing {
			t.Fatalf("honest client %d: ping answered with code %d", i, code)
		}
	}
	st := e.tr.KCPStats()
	if st.Sessions >= maxSessions || st.Refused != 0 {
		t.Fatalf("table %d of %d, refused %d: the flood crowded out the table", st.Sessions, maxSessions, st.Refused)
	}
	t.Logf("%+v", st)
}
