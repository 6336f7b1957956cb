package kcp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"
)

// Return-routability cookies. UDP source addresses can be forged, so a
// flood of forged first segments (PUSH, sn 0) could fill the session table
// from addresses that will never answer. Before such an address may open a
// session, the gate can make it prove that it receives what is sent to its
// address, without keeping any state for it and without any extension of
// the ikcp wire format: it answers the first segment with a PUSH of its own
// carrying sn 0xFFFFFFFF, no payload, and a cookie in ts. Every ikcp peer
// (the reference C ikcp, kcp-go) acknowledges a PUSH whose sn is below its
// receive window without delivering it (sn 0xFFFFFFFF is "one before 0"),
// and an ACK echoes the PUSH's ts. So a real client answers with ACK
// sn 0xFFFFFFFF ts cookie; the gate checks the cookie (an HMAC of the
// address, the conv and the time), marks the address verified for a few
// seconds, and drops the ACK (kcp-go would read its ts as an RTT sample).
// The client's retransmission of its first segment, one retransmission
// timeout later, then opens the session as usual.
//
// A forged address never sees the cookie, so forged first segments cost
// the server one 24-byte reply each (never more than the datagram that
// caused it) and no memory. Honest clients pay one retransmission timeout
// on their first request while cookies are required, which by default is
// only under load (Config.Cookies).
//
// Cookies need readable segments: they apply in plain mode, the ikcp
// format. With FEC or a Key they are off (with a Key, datagrams from unknown
// addresses must authenticate instead, which forgers without the key
// cannot do).

const (
	// cookieSn is the sn of the gate's challenge: one before a new
	// conversation's first segment, so it is acknowledged, never delivered.
	cookieSn = 0xFFFFFFFF
	// cookieEpoch is how long a cookie is valid (two epochs at most).
	cookieEpoch = 30 * time.Second
	// verifiedFor is how long a verified address may open its session.
	verifiedFor = 10 * time.Second
)

// CookieMode says when a new address must echo a cookie before it may open
// a session.
type CookieMode uint8

const (
	// CookiesUnderLoad requires cookies while the session table holds a
	// quarter of MaxSessions or more (the default).
	CookiesUnderLoad CookieMode = iota
	// CookiesAlways requires them for every new address.
	CookiesAlways
	// CookiesOff never requires them.
	CookiesOff
)

// cookieJar makes and checks cookies. Its secret is random per process, so
// a cookie is good for the transport that issued it.
type cookieJar struct {
	secret [32]byte
}

func newCookieJar() *cookieJar {
	j := &cookieJar{}
	rand.Read(j.secret[:])
	return j
}

// value is the cookie of (addr, conv) in the epoch of t.
func (j *cookieJar) value(addr netip.AddrPort, conv uint32, epoch int64) uint32 {
	m := hmac.New(sha256.New, j.secret[:])
	a := addr.Addr().As16()
	var b [16 + 2 + 4 + 8]byte
	copy(b[:16], a[:])
	binary.LittleEndian.PutUint16(b[16:], addr.Port())
	binary.LittleEndian.PutUint32(b[18:], conv)
	binary.LittleEndian.PutUint64(b[22:], uint64(epoch))
	m.Write(b[:])
	return binary.LittleEndian.Uint32(m.Sum(nil))
}

func epochOf(now int64) int64 { return now / int64(cookieEpoch) }

// challenge returns the datagram that asks addr to echo a cookie.
func (j *cookieJar) challenge(addr netip.AddrPort, conv uint32, wnd uint16, now int64) []byte {
	b := make([]byte, segHeaderSize)
	segHeader{conv: conv, cmd: cmdPush, wnd: wnd, ts: j.value(addr, conv, epochOf(now)), sn: cookieSn}.put(b)
	return b
}

// valid reports whether ts is the cookie of (addr, conv) now or in the
// previous epoch.
func (j *cookieJar) valid(addr netip.AddrPort, conv, ts uint32, now int64) bool {
	e := epochOf(now)
	return hmac.Equal(le32(j.value(addr, conv, e)), le32(ts)) || hmac.Equal(le32(j.value(addr, conv, e-1)), le32(ts))
}

func le32(v uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return b[:]
}
