package engine

import (
	"fmt"
	"net"
	"net/netip"
)

// resolveLocal parses DialOptions.LocalAddr for network.
func resolveLocal(network, s string) (net.Addr, error) {
	if network == "unix" {
		return &net.UnixAddr{Name: s, Net: "unix"}, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, fmt.Errorf("engine: bad DialOptions.LocalAddr %q: want IP or IP:port", s)
	}
	return net.TCPAddrFromAddrPort(ap), nil
}
