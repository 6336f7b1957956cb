package iplimit

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Key is a source: an IPv4 address or an IPv6 /64 prefix. The zero Key
// is not a valid source. Keys are comparable and may be used as map keys.
type Key struct {
	bits uint64 // the IPv4 address, or the top 64 bits of the IPv6 address
	v6   bool
	ok   bool
}

// KeyOf returns the key of a: the address itself for IPv4 (and
// IPv4-mapped IPv6), its /64 prefix for IPv6. An invalid a gives the zero
// Key.
func KeyOf(a netip.Addr) Key {
	switch {
	case !a.IsValid():
		return Key{}
	case a.Is4() || a.Is4In6():
		b := a.Unmap().As4()
		return Key{bits: uint64(binary.BigEndian.Uint32(b[:])), ok: true}
	}
	b := a.As16()
	return Key{bits: binary.BigEndian.Uint64(b[:8]), v6: true, ok: true}
}

// KeyOfAddrPort is KeyOf for the address of ap.
func KeyOfAddrPort(ap netip.AddrPort) Key { return KeyOf(ap.Addr()) }

// KeyOfNetAddr returns the key of a TCP, UDP or IP address; ok is false
// for anything else (a Unix socket), which has no source to limit.
func KeyOfNetAddr(a net.Addr) (k Key, ok bool) {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	default:
		return Key{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return Key{}, false
	}
	k = KeyOf(addr)
	return k, k.ok
}

// IsValid reports whether k names a source.
func (k Key) IsValid() bool { return k.ok }

// String is "192.0.2.1" for IPv4 and "2001:db8:1:2::/64" for IPv6.
func (k Key) String() string {
	switch {
	case !k.ok:
		return "invalid"
	case !k.v6:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.bits))
		return netip.AddrFrom4(b).String()
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.bits)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64).String()
}

// hash spreads keys over shards (Fibonacci hashing of the bits).
func (k Key) hash() uint64 {
	h := k.bits
	if k.v6 {
		h ^= 0x9e3779b97f4a7c15
	}
	return h * 0x9e3779b97f4a7c15
}
