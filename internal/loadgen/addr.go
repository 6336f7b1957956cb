package loadgen

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// MaxSources bounds the addresses ParseSources expands to: more would only
// be a typo (a /8 written as a range), and each costs a slot in every child.
const MaxSources = 1 << 16

// ParseAddrs parses a comma-separated list of HOST:PORT targets ("127.0.0.1:7000,
// 127.0.0.1:7002"); spaces around entries are ignored. Every entry must have
// a host (or be ":port", meaning the local host) and a port.
func ParseAddrs(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		host, port, err := net.SplitHostPort(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadAddr, f, err)
		}
		if port == "" {
			return nil, fmt.Errorf("%w: %q has no port", ErrBadAddr, f)
		}
		if host == "" {
			f = net.JoinHostPort("127.0.0.1", port)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrBadAddr)
	}
	return out, nil
}

// ParseSources parses a list of local source addresses: comma-separated
// entries, each one IP ("127.0.0.2", "::1"), an inclusive range of two IPs of
// the same family ("127.0.0.2-127.0.0.60"), or for IPv4 an inclusive range
// whose end is the last byte only ("127.0.0.2-60"). Addresses come out in the
// order written, duplicates removed. An empty string means none (let the
// kernel choose). More than MaxSources addresses is an error.
func ParseSources(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	seen := make(map[netip.Addr]bool)
	add := func(a netip.Addr) error {
		if seen[a] {
			return nil
		}
		if len(out) == MaxSources {
			return fmt.Errorf("%w: more than %d addresses", ErrBadRange, MaxSources)
		}
		seen[a] = true
		out = append(out, a)
		return nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadRange, f, err)
		}
		first = first.Unmap()
		if !isRange {
			if err := add(first); err != nil {
				return nil, err
			}
			continue
		}
		hi = strings.TrimSpace(hi)
		last, err := netip.ParseAddr(hi)
		if err != nil {
			// "127.0.0.2-60": the end replaces the last byte.
			n, nerr := strconv.ParseUint(hi, 10, 8)
			if nerr != nil || !first.Is4() {
				return nil, fmt.Errorf("%w: %q: end %q is neither an address nor (for IPv4) a last byte", ErrBadRange, f, hi)
			}
			b := first.As4()
			b[3] = byte(n)
			last = netip.AddrFrom4(b)
		}
		last = last.Unmap()
		if first.BitLen() != last.BitLen() {
			return nil, fmt.Errorf("%w: %q mixes IPv4 and IPv6", ErrBadRange, f)
		}
		if last.Less(first) {
			return nil, fmt.Errorf("%w: %q ends before it starts", ErrBadRange, f)
		}
		for a := first; ; a = a.Next() {
			if err := add(a); err != nil {
				return nil, err
			}
			if a == last {
				break
			}
		}
	}
	return out, nil
}
