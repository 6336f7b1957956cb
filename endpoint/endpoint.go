package endpoint

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Addr is a parsed address: what to listen on or dial, and how. It is a
// comparable value, usable as a map key; two Addrs are equal when they
// name the same thing in the same words (see String). The zero Addr is no
// address: String returns "" and IsZero true.
type Addr struct {
	// Scheme is the lower-case scheme, a row of the scheme table: "tcp",
	// "unix", "udp", "tls", "ws", ...
	Scheme string

	// Host is a host name or an IP address, without brackets, with its
	// zone if any ("fe80::1%eth0"). "" means every interface when
	// listening and the local host when dialing. Always "" for unix.
	Host string

	// Port is the port, 0 when listening meaning one the kernel picks.
	// Where the scheme implies a port (ws: 80, wss: 443) and none was
	// written, Parse sets that one. Always 0 for unix.
	Port uint16

	// Path is the socket path for unix ("/run/wharf.sock", or relative:
	// "run/wharf.sock"), and the request path, query included, for the
	// schemes that carry one (ws, wss: "/ws" when none was written).
	// Always "" for the other schemes.
	Path string
}

// maxUnixPath is the longest socket path Linux accepts: sun_path is 108
// bytes including the terminating NUL. Other systems allow a little less,
// which their bind reports.
const maxUnixPath = 107

// maxHost bounds a host name: DNS names are at most 253 bytes.
const maxHost = 253

// Parse parses s, written SCHEME://ADDRESS ("tcp://127.0.0.1:7000",
// "unix:///run/wharf.sock", "ws://example.com/ws"). An address written
// without a scheme ("127.0.0.1:7000", ":7000") takes implied; with implied
// "" a scheme is required. A scheme is case-insensitive. The error is an
// *Error naming s and what is wrong with it.
//
// For every scheme but unix, ADDRESS is HOST:PORT, followed by a path for
// the schemes that carry one (ws, wss). HOST is a name, an IPv4 address,
// an IPv6 address in brackets ("[::1]:7000") or empty (":7000": every
// interface). PORT is a number from 0 to 65535; it may be left out where
// the scheme implies one. For unix, ADDRESS is the socket path:
// "unix:///abs/path" or "unix://rel/path".
func Parse(s, implied string) (Addr, error) {
	fail := func(reason string) (Addr, error) { return Addr{}, &Error{Input: s, Reason: reason} }
	if s == "" {
		return fail("empty address")
	}
	name, rest, ok := strings.Cut(s, "://")
	switch {
	case ok && name == "":
		return fail(`missing scheme before "://"`)
	case ok:
		name = strings.ToLower(name)
	case implied == "":
		return fail(`missing scheme (want SCHEME://ADDRESS, e.g. "tcp://:7000")`)
	default:
		name, rest = implied, s
	}
	sc := lookup(name)
	if sc == nil {
		if !ok {
			return fail("implied scheme " + strconv.Quote(implied) + " is unknown")
		}
		return fail("unknown scheme " + strconv.Quote(name) + " (want " + Known().String() + ")")
	}
	a := Addr{Scheme: sc.name}
	if sc.file {
		switch {
		case rest == "":
			return fail("missing socket path")
		case strings.IndexByte(rest, 0) >= 0:
			return fail("socket path holds a NUL byte")
		case len(rest) > maxUnixPath:
			return fail("socket path is longer than " + strconv.Itoa(maxUnixPath) + " bytes")
		}
		a.Path = rest
		return a, nil
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host, port, bracketed, reason := splitHostPort(authority)
	if reason != "" {
		return fail(reason)
	}
	if reason := checkHost(host, bracketed, sc); reason != "" {
		return fail(reason)
	}
	a.Host = host
	switch {
	case port != "":
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return fail("port " + strconv.Quote(port) + " is not a number from 0 to 65535")
		}
		a.Port = uint16(n)
	case sc.port != noPort:
		a.Port = uint16(sc.port)
	case isDigits(authority):
		return fail("missing port: write \":" + authority + "\" for port " + authority + " on every interface")
	default:
		return fail(`missing port (want HOST:PORT, e.g. ":7000")`)
	}
	switch {
	case sc.path == "" && path != "":
		return fail("unexpected " + strconv.Quote(path) + " after the port")
	case sc.path == "":
	case path == "":
		a.Path = sc.path
	default:
		for i := 0; i < len(path); i++ {
			if c := path[i]; c <= ' ' || c == 0x7f || c == '#' {
				return fail("path " + strconv.Quote(path) + " holds " + strconv.QuoteRune(rune(c)) + " (spaces, control characters and fragments are not allowed)")
			}
		}
		a.Path = path
	}
	return a, nil
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]" (port
// ""), reporting whether the host was in brackets, or returns what is
// wrong.
func splitHostPort(s string) (host, port string, bracketed bool, reason string) {
	if s == "" {
		return "", "", false, `missing HOST:PORT (e.g. ":7000")`
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", true, `missing "]" after the IPv6 address`
		}
		host, after := s[1:end], s[end+1:]
		switch {
		case host == "":
			return "", "", true, `empty brackets (write ":PORT" for every interface)`
		case after == "":
			return host, "", true, ""
		case after[0] != ':':
			return "", "", true, "unexpected " + strconv.Quote(after) + " after the host"
		case after == ":":
			return "", "", true, `missing port after ":"`
		}
		return host, after[1:], true, ""
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, "", false, ""
	case 1:
		host, port, _ := strings.Cut(s, ":")
		if port == "" {
			return "", "", false, `missing port after ":"`
		}
		return host, port, false, ""
	}
	return "", "", false, `an IPv6 address must be in brackets, e.g. "[::1]:7000"`
}

// checkHost returns what is wrong with host (as split off, brackets
// removed) under scheme sc, or "".
func checkHost(host string, bracketed bool, sc *scheme) string {
	ip, err := netip.ParseAddr(host)
	switch {
	case bracketed && (err != nil || !ip.Is6()):
		return strconv.Quote(host) + " in brackets is not an IPv6 address"
	case bracketed:
		if zone := ip.Zone(); !isHostName(zone) {
			return "IPv6 zone " + strconv.Quote(zone) + " holds a character not allowed in an interface name"
		}
	case err != nil:
		if len(host) > maxHost {
			return "host name is longer than " + strconv.Itoa(maxHost) + " bytes"
		}
		if !isHostName(host) {
			return "host " + strconv.Quote(host) + " holds a character not allowed in a host name"
		}
		return ""
	}
	switch {
	case sc.family == 4 && !ip.Unmap().Is4():
		return sc.name + " needs an IPv4 address"
	case sc.family == 6 && !ip.Is6():
		return sc.name + " needs an IPv6 address"
	}
	return ""
}

// isHostName reports whether s holds only bytes allowed in a host name
// (and an interface name): letters, digits, '-', '.' and '_' (container
// names use it).
func isHostName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// MustParse is Parse with no implied scheme, for addresses known to be
// valid (defaults, tests); it panics on error.
func MustParse(s string) Addr {
	a, err := Parse(s, "")
	if err != nil {
		panic(err)
	}
	return a
}

// String returns a in the form Parse reads back to an equal Addr: the
// scheme always, the port unless it is the one the scheme implies (and the
// host is not empty), the path of the schemes that carry one. The zero
// Addr gives "".
func (a Addr) String() string {
	if a.IsZero() {
		return ""
	}
	sc := lookup(a.Scheme)
	if sc != nil && sc.file {
		return a.Scheme + "://" + a.Path
	}
	hostport := net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
	if sc != nil && a.Host != "" && sc.port != noPort && int(a.Port) == sc.port {
		hostport = a.Host
		if strings.IndexByte(hostport, ':') >= 0 {
			hostport = "[" + hostport + "]"
		}
	}
	return a.Scheme + "://" + hostport + a.Path
}

// IsZero reports whether a is the zero Addr.
func (a Addr) IsZero() bool { return a == Addr{} }

// Network returns the network to pass to net.Listen, net.ListenPacket or
// net.Dial with Address: "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" or
// "unix". Schemes layered on a transport give the transport's network:
// "tcp" for tls, ws and wss, "udp" for kcp. It returns "" for a scheme
// that is not in the table.
func (a Addr) Network() string {
	if sc := lookup(a.Scheme); sc != nil {
		return sc.network
	}
	return ""
}

// Address returns the address to pass to net.Listen or net.Dial with
// Network: "host:port" ("[::1]:7000", ":7000"), or the socket path for
// unix.
func (a Addr) Address() string {
	if sc := lookup(a.Scheme); sc != nil && sc.file {
		return a.Path
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
}

// Secure reports whether the scheme runs TLS over its network (tls, wss).
func (a Addr) Secure() bool {
	sc := lookup(a.Scheme)
	return sc != nil && sc.secure
}

// MarshalText returns a.String(), so that an Addr reads as its string in
// JSON and logs.
func (a Addr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses text, which must have a scheme (Parse with none
// implied). Empty text gives the zero Addr.
func (a *Addr) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*a = Addr{}
		return nil
	}
	p, err := Parse(string(text), "")
	if err != nil {
		return err
	}
	*a = p
	return nil
}
