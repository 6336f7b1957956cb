package kcp

import (
	"crypto/cipher"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
)

// gate is the net.PacketConn that kcp-go's Listener reads from and its
// sessions write to. kcp-go creates a session, before any Accept, for every
// datagram of 24 bytes or more from an address it has no session for, and
// resets a session when a datagram with another conv and sn 0 arrives from
// its address; it bounds only the accept backlog (128), not the sessions. So
// every datagram passes the gate first, which:
//
//   - drops malformed datagrams (counted as garbage): in plain and FEC mode
//     every datagram's segments are checked; with a Key, a datagram from an
//     unknown address must authenticate (AES-GCM), and one from a known
//     address is left to kcp-go, which authenticates it too;
//   - drops datagrams from a known address with another conv (plain and FEC
//     mode), so nobody can reset or hijack a session by guessing its
//     address;
//   - lets a datagram from an unknown address through only if it can start
//     a conversation (it carries the PUSH with sn 0, of a conversation the
//     transport has not closed lately; others are strays) and the table
//     has room (MaxSessions, pending sessions included; others are
//     refused), and records the address;
//   - notes, per address, the time of the last datagram (for the idle
//     reaper) and the acknowledgement state of the session (largest una in,
//     first transmissions out), which kcp-go does not expose and a graceful
//     close waits on.
//
// The table is the transport's session table: an entry per remote address,
// pending until the accept loop attaches the session's conn.
type gate struct {
	net.PacketConn // the UDP socket; methods other than ReadFrom and WriteTo pass through

	aead    cipher.AEAD // nil without a Key; safe for concurrent use
	fec     bool
	max     int   // MaxSessions
	tombTTL int64 // how long a closed conversation stays closed, ns
	clock   func() time.Time

	scratch []byte // decryption buffer; owned by the reading goroutine (kcp-go's Listener.monitor)

	// inFlight is true from the moment the reading goroutine has a datagram
	// until it asks for the next one: while it is false, kcp-go is not
	// processing anything the gate let through, so it is creating no
	// session.
	inFlight atomic.Bool

	ctr gateCounters

	// Return-routability cookies (cookie.go); jar is nil when they are off
	// (CookiesOff, FEC or a Key).
	jar        *cookieJar
	cookieMode CookieMode
	wnd        uint16 // the window announced in a challenge: RecvWindow

	mu        sync.RWMutex                    // guards the fields below and entry.conn, entry.conv
	verified  map[netip.AddrPort]verifiedAddr // addresses that echoed a cookie, until they open their session
	table     map[netip.AddrPort]*entry
	admitting bool // new addresses are admitted (false after StopAccepting)
	tombs     map[netip.AddrPort]tomb
	tombQ     []tombRef // tombs in the order they were laid, for expiry
}

// tomb remembers a conversation the transport closed, so that its peer's
// retransmissions of segment 0 (a peer whose first segment was never
// acknowledged, or one that has not noticed the close) cannot open it
// again: that would run its first request twice. A new conversation (another
// conv) from the same address is not affected.
type tomb struct {
	conv  uint32
	until int64 // Clock UnixNano
}

type tombRef struct {
	key   netip.AddrPort
	until int64
}

type gateCounters struct {
	datagramsIn, bytesIn   atomic.Uint64
	datagramsOut, bytesOut atomic.Uint64
	garbage, mismatch      atomic.Uint64
	strays, refused        atomic.Uint64
	stopped                atomic.Uint64 // refused after StopAccepting
	retransmits, reaped    atomic.Uint64
	cookiesSent            atomic.Uint64 // challenges sent to new addresses
	cookiesOK, cookiesBad  atomic.Uint64 // challenge ACKs with a right and a wrong cookie
}

// verifiedAddr is an address that echoed a cookie for conv.
type verifiedAddr struct {
	conv  uint32
	until int64 // Clock UnixNano
}

// entry is one remote address in the session table.
type entry struct {
	key  netip.AddrPort
	conv uint32   // guarded by gate.mu
	conn *session // guarded by gate.mu; nil while the session waits to be accepted

	last atomic.Int64 // Clock UnixNano of the last datagram let through

	// Acknowledgement state, plain and FEC mode only. una is written by the
	// reading goroutine; sndNxt and sent by the session's kcp-go output
	// goroutine. sndNxt is written before sent, and read after it.
	una    atomic.Uint32 // largest una received: the peer has every sn below it
	sndNxt atomic.Uint32 // one past the largest sn sent
	sent   atomic.Uint64 // PUSH payload bytes sent for the first time
}

func newGate(pc net.PacketConn, cfg *Config, aead cipher.AEAD) *gate {
	g := &gate{
		PacketConn: pc,
		aead:       aead,
		fec:        cfg.fec(),
		max:        cfg.MaxSessions,
		tombTTL:    int64(cfg.IdleTimeout),
		clock:      cfg.Clock,
		scratch:    make([]byte, 0, maxDatagram),
		cookieMode: cfg.Cookies,
		wnd:        uint16(cfg.RecvWindow),
		table:      make(map[netip.AddrPort]*entry),
		tombs:      make(map[netip.AddrPort]tomb),
		verified:   make(map[netip.AddrPort]verifiedAddr),
		admitting:  true,
	}
	if cfg.Cookies != CookiesOff && aead == nil && !g.fec {
		g.jar = newCookieJar()
	}
	return g
}

// needCookieLocked reports whether a new address must echo a cookie before
// it opens a session; g.mu must be held.
func (g *gate) needCookieLocked() bool {
	return g.jar != nil && (g.cookieMode == CookiesAlways || len(g.table) >= max(1, g.max/4))
}

// observable reports whether the gate can read the segments of every
// datagram (no encryption), and so track acknowledgements.
func (g *gate) observable() bool { return g.aead == nil }

// ReadFrom returns the next datagram the gate lets through. Only kcp-go's
// Listener calls it, from one goroutine.
func (g *gate) ReadFrom(p []byte) (int, net.Addr, error) {
	g.inFlight.Store(false)
	for {
		n, addr, err := g.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		g.inFlight.Store(true)
		g.ctr.datagramsIn.Add(1)
		g.ctr.bytesIn.Add(uint64(n))
		if g.admit(p[:n], addr) {
			return n, addr, nil
		}
		g.inFlight.Store(false)
	}
}

// segments returns the KCP segments of a plain (unencrypted) datagram, nil
// for an FEC parity shard or OOB packet, and ok false if it is malformed.
func (g *gate) segments(b []byte) ([]byte, bool) {
	if !g.fec {
		return b, true
	}
	segs, _, ok := fecPayload(b)
	return segs, ok
}

// admit decides the fate of one datagram; see gate.
func (g *gate) admit(b []byte, addr net.Addr) bool {
	key, ok := addrKey(addr)
	if !ok {
		g.ctr.garbage.Add(1)
		return false
	}
	var info datagramInfo
	parsed := false
	if g.aead == nil {
		segs, ok := g.segments(b)
		if ok && segs != nil {
			info, ok = parseSegments(segs)
			parsed = true
		}
		if !ok {
			g.ctr.garbage.Add(1)
			return false
		}
	}
	now := g.clock().UnixNano()
	g.mu.RLock()
	e := g.table[key]
	var conv uint32
	if e != nil {
		conv = e.conv
	}
	g.mu.RUnlock()
	if e != nil {
		if parsed {
			if info.conv != conv {
				g.ctr.mismatch.Add(1)
				return false
			}
			if seqAfter(info.una, e.una.Load()) {
				e.una.Store(info.una)
			}
		}
		e.last.Store(now)
		return true
	}

	// An unknown address: only a datagram that can start a conversation
	// may take a place in the table.
	if g.aead != nil {
		if len(b) < gcmNonceSize+gcmTagSize {
			g.ctr.garbage.Add(1)
			return false
		}
		plain, err := g.aead.Open(g.scratch[:0], b[:gcmNonceSize], b[gcmNonceSize:], nil)
		if err != nil {
			g.ctr.garbage.Add(1)
			return false
		}
		segs, ok := g.segments(plain)
		if ok && segs != nil {
			info, ok = parseSegments(segs)
			parsed = true
		}
		if !ok {
			g.ctr.garbage.Add(1)
			return false
		}
	}
	if info.cookieAck && g.jar != nil {
		// The answer to a challenge; never for kcp-go (it would read the
		// cookie in ts as a round-trip time).
		if g.jar.valid(key, info.conv, info.cookieTS, now) {
			g.ctr.cookiesOK.Add(1)
			g.mu.Lock()
			if len(g.verified) < g.max {
				g.verified[key] = verifiedAddr{conv: info.conv, until: now + int64(verifiedFor)}
			}
			g.mu.Unlock()
		} else {
			g.ctr.cookiesBad.Add(1)
		}
		return false
	}
	if !parsed || !info.opener {
		g.ctr.strays.Add(1)
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.table[key]; e != nil { // raced with the accept loop
		e.last.Store(now)
		return e.conv == info.conv
	}
	if tb, ok := g.tombs[key]; ok && tb.conv == info.conv && tb.until > now {
		g.ctr.strays.Add(1)
		return false
	}
	if !g.admitting {
		g.ctr.stopped.Add(1)
		return false
	}
	if len(g.table) >= g.max {
		g.ctr.refused.Add(1)
		return false
	}
	if g.needCookieLocked() {
		if v, ok := g.verified[key]; !ok || v.conv != info.conv || v.until <= now {
			// Ask the address to prove it hears us; the client's
			// retransmission of this segment comes back once it has.
			g.ctr.cookiesSent.Add(1)
			if _, err := g.PacketConn.WriteTo(g.jar.challenge(key, info.conv, g.wnd, now), addr); err == nil {
				g.ctr.datagramsOut.Add(1)
				g.ctr.bytesOut.Add(segHeaderSize)
			}
			return false
		}
	}
	delete(g.verified, key)
	e = &entry{key: key, conv: info.conv}
	e.last.Store(now)
	g.table[key] = e
	return true
}

// WriteTo sends a datagram of a session and, in plain and FEC mode, notes
// its PUSH segments for the acknowledgement state. kcp-go calls it from each
// session's output goroutine.
func (g *gate) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := g.PacketConn.WriteTo(p, addr)
	if err != nil {
		return n, err
	}
	g.ctr.datagramsOut.Add(1)
	g.ctr.bytesOut.Add(uint64(n))
	if g.aead != nil {
		return n, nil
	}
	segs, ok := g.segments(p)
	if !ok || segs == nil || !hasPush(segs) {
		return n, nil
	}
	key, ok := addrKey(addr)
	if !ok {
		return n, nil
	}
	g.mu.RLock()
	e := g.table[key]
	g.mu.RUnlock()
	if e == nil {
		return n, nil
	}
	nxt, sent := e.sndNxt.Load(), e.sent.Load()
	retrans := uint64(0)
	forEachPush(segs, func(sn uint32, length int) {
		if sn == nxt || seqAfter(sn, nxt) {
			nxt = sn + 1
			sent += uint64(length)
		} else {
			retrans++
		}
	})
	e.sndNxt.Store(nxt)
	e.sent.Store(sent)
	if retrans > 0 {
		g.ctr.retransmits.Add(retrans)
	}
	return n, nil
}

// hasPush reports whether well-formed segments include a PUSH.
func hasPush(b []byte) bool {
	found := false
	forEachPush(b, func(uint32, int) { found = true })
	return found
}

// forEachPush calls fn for every PUSH segment of well-formed segments.
func forEachPush(b []byte, fn func(sn uint32, length int)) {
	for len(b) >= segHeaderSize {
		h := parseSegHeader(b)
		b = b[segHeaderSize:]
		if uint64(h.length) > uint64(len(b)) {
			return
		}
		if h.cmd == cmdPush {
			fn(h.sn, int(h.length))
		}
		b = b[h.length:]
	}
}

// attach binds an accepted session's conn to its table entry, creating the
// entry if the reaper dropped it meanwhile. It reports false, and the
// session must be refused, when the gate no longer admits or the table is
// full (counted as refused). A conn already attached to the entry belongs
// to a conversation kcp-go has reset; it is returned so the caller can
// close it.
func (g *gate) attach(c *session, conv uint32) (old *session, ok bool) {
	now := g.clock().UnixNano()
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.table[c.key]
	if !g.admitting {
		if e != nil && e.conn == nil {
			// Without its entry the address is unknown again, and its
			// datagrams are refused before kcp-go makes another session.
			delete(g.table, c.key)
		}
		return nil, false
	}
	if e == nil {
		if len(g.table) >= g.max {
			g.ctr.refused.Add(1)
			return nil, false
		}
		e = &entry{key: c.key}
		e.last.Store(now)
		g.table[c.key] = e
	}
	old = e.conn
	e.conn, e.conv = c, conv
	if old != nil { // a new conversation: its segment numbers start again
		e.una.Store(0)
		e.sndNxt.Store(0)
		e.sent.Store(0)
	}
	c.entry = e
	return old, true
}

// detach removes c's entry, if c still owns it, and lays a tomb for its
// conversation. At most MaxSessions tombs are kept; the oldest go first.
func (g *gate) detach(c *session) {
	until := g.clock().UnixNano() + g.tombTTL
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.table[c.key]
	if e == nil || e.conn != c {
		return
	}
	delete(g.table, c.key)
	g.tombs[c.key] = tomb{conv: e.conv, until: until}
	g.tombQ = append(g.tombQ, tombRef{key: c.key, until: until})
	for len(g.tombs) > g.max && len(g.tombQ) > 0 {
		g.popTombLocked()
	}
}

// popTombLocked removes the oldest tomb reference, and its tomb unless a
// later one replaced it. g.mu must be held.
func (g *gate) popTombLocked() {
	r := g.tombQ[0]
	g.tombQ[0] = tombRef{}
	g.tombQ = g.tombQ[1:]
	if tb, ok := g.tombs[r.key]; ok && tb.until == r.until {
		delete(g.tombs, r.key)
	}
	if len(g.tombQ) == 0 {
		g.tombQ = nil // let the array go
	}
}

// stopAdmitting refuses new addresses from now on.
func (g *gate) stopAdmitting() {
	g.mu.Lock()
	g.admitting = false
	g.mu.Unlock()
}

// dropPending removes the entries no session was attached to.
func (g *gate) dropPending() {
	g.mu.Lock()
	for k, e := range g.table {
		if e.conn == nil {
			delete(g.table, k)
		}
	}
	g.mu.Unlock()
}

// quiet reports that kcp-go can create no more sessions: the gate admits
// nobody, the table is empty (so every datagram is dropped), and no datagram
// it let through is still being processed.
func (g *gate) quiet() bool {
	g.mu.RLock()
	q := !g.admitting && len(g.table) == 0
	g.mu.RUnlock()
	return q && !g.inFlight.Load()
}

// errReaped is what OnClose gets for a session the reaper closed.
var errReaped error = engine.ErrIdleTimeout

// reap closes sessions, and drops pending entries, silent since before
// cutoff, and drops the tombs expired at now (Clock UnixNano).
func (g *gate) reap(now, cutoff int64, closeConn func(s *session)) {
	var idle []*session
	g.mu.Lock()
	for len(g.tombQ) > 0 && g.tombQ[0].until <= now {
		g.popTombLocked()
	}
	for k, v := range g.verified {
		if v.until <= now {
			delete(g.verified, k)
		}
	}
	for k, e := range g.table {
		if e.last.Load() >= cutoff {
			continue
		}
		if e.conn == nil {
			delete(g.table, k)
			g.ctr.reaped.Add(1)
		} else if e.conn.why.CompareAndSwap(nil, &errReaped) {
			idle = append(idle, e.conn)
			g.ctr.reaped.Add(1)
		}
	}
	g.mu.Unlock()
	for _, c := range idle {
		closeConn(c)
	}
}

// counts returns the table size and its pending entries.
func (g *gate) counts() (sessions, pending int) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, e := range g.table {
		if e.conn == nil {
			pending++
		}
	}
	return len(g.table), pending
}

// addrKey is the table key of a remote address: IPv4-mapped IPv6 addresses
// are unmapped, so one peer has one key whichever form the socket reports.
func addrKey(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	if u, ok := a.(*net.UDPAddr); ok {
		ap = u.AddrPort()
	} else if a != nil {
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return ap, false
		}
	}
	if !ap.IsValid() {
		return ap, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
