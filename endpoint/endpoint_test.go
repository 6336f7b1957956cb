package endpoint

import (
	"errors"
	"strings"
	"testing"
)

var parseTests = []struct {
	name    string
	in      string
	implied string
	want    Addr
	str     string // String(); "" means in
	network string
	address string
	err     string // substring of the reason; "" for success
}{
	// The schemes of the table.
	{name: "tcp", in: "tcp://127.0.0.1:7000", want: Addr{Scheme: "tcp", Host: "127.0.0.1", Port: 7000}, network: "tcp", address: "127.0.0.1:7000"},
	{name: "tcp all interfaces", in: "tcp://:7000", want: Addr{Scheme: "tcp", Port: 7000}, network: "tcp", address: ":7000"},
	{name: "tcp port 0", in: "tcp://127.0.0.1:0", want: Addr{Scheme: "tcp", Host: "127.0.0.1"}, network: "tcp", address: "127.0.0.1:0"},
	{name: "tcp port 65535", in: "tcp://:65535", want: Addr{Scheme: "tcp", Port: 65535}, network: "tcp", address: ":65535"},
	{name: "tcp name", in: "tcp://localhost:80", want: Addr{Scheme: "tcp", Host: "localhost", Port: 80}, network: "tcp", address: "localhost:80"},
	{name: "tcp name with underscore", in: "tcp://my_box.local:80", want: Addr{Scheme: "tcp", Host: "my_box.local", Port: 80}, network: "tcp", address: "my_box.local:80"},
	{name: "tcp4", in: "tcp4://0.0.0.0:7000", want: Addr{Scheme: "tcp4", Host: "0.0.0.0", Port: 7000}, network: "tcp4", address: "0.0.0.0:7000"},
	{name: "tcp4 mapped", in: "tcp4://[::ffff:127.0.0.1]:1", want: Addr{Scheme: "tcp4", Host: "::ffff:127.0.0.1", Port: 1}, network: "tcp4", address: "[::ffff:127.0.0.1]:1"},
	{name: "tcp6", in: "tcp6://[::1]:7000", want: Addr{Scheme: "tcp6", Host: "::1", Port: 7000}, network: "tcp6", address: "[::1]:7000"},
	{name: "tcp6 all", in: "tcp6://[::]:7000", want: Addr{Scheme: "tcp6", Host: "::", Port: 7000}, network: "tcp6", address: "[::]:7000"},
	{name: "ipv6 zone", in: "tcp://[fe80::1%eth0]:7000", want: Addr{Scheme: "tcp", Host: "fe80::1%eth0", Port: 7000}, network: "tcp", address: "[fe80::1%eth0]:7000"},
	{name: "unix absolute", in: "unix:///run/wharf.sock", want: Addr{Scheme: "unix", Path: "/run/wharf.sock"}, network: "unix", address: "/run/wharf.sock"},
	{name: "unix relative", in: "unix://run/wharf.sock", want: Addr{Scheme: "unix", Path: "run/wharf.sock"}, network: "unix", address: "run/wharf.sock"},
	{name: "unix abstract", in: "unix://@wharf", want: Addr{Scheme: "unix", Path: "@wharf"}, network: "unix", address: "@wharf"},
	{name: "udp", in: "udp://:7001", want: Addr{Scheme: "udp", Port: 7001}, network: "udp", address: ":7001"},
	{name: "udp4", in: "udp4://127.0.0.1:7001", want: Addr{Scheme: "udp4", Host: "127.0.0.1", Port: 7001}, network: "udp4", address: "127.0.0.1:7001"},
	{name: "udp6", in: "udp6://[::1]:7001", want: Addr{Scheme: "udp6", Host: "::1", Port: 7001}, network: "udp6", address: "[::1]:7001"},
	{name: "kcp", in: "kcp://127.0.0.1:7001", want: Addr{Scheme: "kcp", Host: "127.0.0.1", Port: 7001}, network: "udp", address: "127.0.0.1:7001"},
	{name: "tls", in: "tls://:8443", want: Addr{Scheme: "tls", Port: 8443}, network: "tcp", address: ":8443"},
	{name: "ws", in: "ws://example.com:8080/ws", want: Addr{Scheme: "ws", Host: "example.com", Port: 8080, Path: "/ws"}, network: "tcp", address: "example.com:8080"},
	{name: "ws implied port and path", in: "ws://example.com", str: "ws://example.com/ws", want: Addr{Scheme: "ws", Host: "example.com", Port: 80, Path: "/ws"}, network: "tcp", address: "example.com:80"},
	{name: "ws default port written", in: "ws://example.com:80/ws", str: "ws://example.com/ws", want: Addr{Scheme: "ws", Host: "example.com", Port: 80, Path: "/ws"}, network: "tcp", address: "example.com:80"},
	{name: "ws no host keeps its port", in: "ws://:80/ws", want: Addr{Scheme: "ws", Port: 80, Path: "/ws"}, network: "tcp", address: ":80"},
	{name: "ws query", in: "ws://[::1]:8080/chat?room=1", want: Addr{Scheme: "ws", Host: "::1", Port: 8080, Path: "/chat?room=1"}, network: "tcp", address: "[::1]:8080"},
	{name: "wss", in: "wss://[::1]/ws", want: Addr{Scheme: "wss", Host: "::1", Port: 443, Path: "/ws"}, network: "tcp", address: "[::1]:443"},
	{name: "scheme case", in: "TCP://:1", str: "tcp://:1", want: Addr{Scheme: "tcp", Port: 1}, network: "tcp", address: ":1"},
	{name: "leading zeros in the port", in: "tcp://:007", str: "tcp://:7", want: Addr{Scheme: "tcp", Port: 7}, network: "tcp", address: ":7"},

	// Implied schemes.
	{name: "bare host:port", in: "127.0.0.1:8080", implied: "tcp", str: "tcp://127.0.0.1:8080", want: Addr{Scheme: "tcp", Host: "127.0.0.1", Port: 8080}, network: "tcp", address: "127.0.0.1:8080"},
	{name: "bare :port", in: ":7001", implied: "udp", str: "udp://:7001", want: Addr{Scheme: "udp", Port: 7001}, network: "udp", address: ":7001"},
	{name: "bare ipv6", in: "[::1]:7000", implied: "tcp", str: "tcp://[::1]:7000", want: Addr{Scheme: "tcp", Host: "::1", Port: 7000}, network: "tcp", address: "[::1]:7000"},
	{name: "explicit scheme beats implied", in: "unix:///s", implied: "tcp", want: Addr{Scheme: "unix", Path: "/s"}, network: "unix", address: "/s"},

	// Errors.
	{name: "empty", in: "", err: "empty address"},
	{name: "empty with implied", in: "", implied: "tcp", err: "empty address"},
	{name: "no scheme", in: "127.0.0.1:80", err: "missing scheme"},
	{name: "empty scheme", in: "://:80", err: `missing scheme before "://"`},
	{name: "unknown scheme", in: "http://:80", err: `unknown scheme "http" (want tcp, tcp4, tcp6, unix, udp, udp4, udp6, kcp, tls, ws or wss)`},
	{name: "unknown implied", in: ":80", implied: "sctp", err: `implied scheme "sctp" is unknown`},
	{name: "no address", in: "tcp://", err: "missing HOST:PORT"},
	{name: "missing port", in: "tcp://localhost", err: "missing port (want HOST:PORT"},
	{name: "port alone", in: "7002", implied: "tcp", err: `missing port: write ":7002" for port 7002 on every interface`},
	{name: "empty port", in: "tcp://localhost:", err: `missing port after ":"`},
	{name: "port too large", in: "tcp://:65536", err: `port "65536" is not a number from 0 to 65535`},
	{name: "negative port", in: "tcp://:-1", err: `port "-1" is not a number`},
	{name: "plus port", in: "tcp://:+1", err: `port "+1" is not a number`},
	{name: "named port", in: "tcp://:http", err: `port "http" is not a number`},
	{name: "junk after the port", in: "tcp://:7000x", err: `port "7000x" is not a number`},
	{name: "space after the port", in: "tcp://:7000 ", err: `port "7000 " is not a number`},
	{name: "path after the port", in: "tcp://:7000/x", err: `unexpected "/x" after the port`},
	{name: "path on udp", in: "udp://:7001/", err: `unexpected "/" after the port`},
	{name: "junk after brackets", in: "tcp://[::1]x:80", err: `unexpected "x:80" after the host`},
	{name: "unclosed bracket", in: "tcp://[::1:80", err: `missing "]"`},
	{name: "empty brackets", in: "tcp://[]:80", err: "empty brackets"},
	{name: "ipv4 in brackets", in: "tcp://[127.0.0.1]:80", err: "in brackets is not an IPv6 address"},
	{name: "name in brackets", in: "tcp://[localhost]:80", err: "in brackets is not an IPv6 address"},
	{name: "ipv6 without brackets", in: "tcp://::1:80", err: "must be in brackets"},
	{name: "bad zone", in: "tcp://[fe80::1%a b]:80", err: "IPv6 zone"},
	{name: "userinfo", in: "tcp://user@host:80", err: "not allowed in a host name"},
	{name: "space in host", in: "tcp://a b:80", err: "not allowed in a host name"},
	{name: "query without path", in: "ws://host?x=1", err: "not allowed in a host name"},
	{name: "long host", in: "tcp://" + strings.Repeat("a", 254) + ":80", err: "longer than 253 bytes"},
	{name: "tcp4 with ipv6", in: "tcp4://[::1]:7003", err: "tcp4 needs an IPv4 address"},
	{name: "tcp6 with ipv4", in: "tcp6://127.0.0.1:1", err: "tcp6 needs an IPv6 address"},
	{name: "udp4 with ipv6", in: "udp4://[::1]:1", err: "udp4 needs an IPv4 address"},
	{name: "unix without path", in: "unix://", err: "missing socket path"},
	{name: "unix too long", in: "unix:///" + strings.Repeat("x", 107), err: "socket path is longer than 107 bytes"},
	{name: "unix NUL", in: "unix:///a\x00b", err: "NUL"},
	{name: "ws path with space", in: "ws://h/a b", err: "spaces, control characters and fragments"},
	{name: "ws fragment", in: "ws://h/ws#x", err: "fragments"},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, tt.implied)
			if tt.err != "" {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q, %q) = %+v, %v; want an *Error matching ErrInvalid", tt.in, tt.implied, got, err)
				}
				if e.Input != tt.in || !strings.Contains(e.Reason, tt.err) {
					t.Fatalf("Parse(%q, %q): %+v; want Input %q and a Reason with %q", tt.in, tt.implied, e, tt.in, tt.err)
				}
				if !got.IsZero() {
					t.Errorf("Parse(%q) failed but returned %+v", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tt.in, tt.implied, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q, %q) = %+v; want %+v", tt.in, tt.implied, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q; want %q", got.String(), str)
			}
			if got.Network() != tt.network || got.Address() != tt.address {
				t.Errorf("Network, Address = %q, %q; want %q, %q", got.Network(), got.Address(), tt.network, tt.address)
			}
			back, err := Parse(got.String(), "")
			if err != nil || back != got {
				t.Errorf("Parse(String()) = %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"tcp://:70000", `endpoint: "tcp://:70000": port "70000" is not a number from 0 to 65535`},
		{"", "endpoint: empty address"},
	} {
		_, err := Parse(tt.in, "tcp")
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q): %v; want %s", tt.in, err, tt.want)
		}
	}
}

func TestSchemesParse(t *testing.T) {
	stream := Schemes{"tcp", "tcp4", "tcp6", "unix"}
	for _, tt := range []struct {
		name string
		ss   Schemes
		in   string
		want string // String() of the result
		err  string
	}{
		{name: "implied first", ss: stream, in: "127.0.0.1:80", want: "tcp://127.0.0.1:80"},
		{name: "allowed", ss: stream, in: "unix:///s", want: "unix:///s"},
		{name: "case", ss: stream, in: "Unix:///s", want: "unix:///s"},
		{name: "not allowed", ss: stream, in: "udp://:7001", err: "scheme must be tcp, tcp4, tcp6 or unix"},
		{name: "unknown", ss: stream, in: "http://:80", err: "scheme must be tcp, tcp4, tcp6 or unix"},
		{name: "allowed but bad", ss: stream, in: "tcp://:x", err: `port "x"`},
		{name: "udp implied", ss: Schemes{"udp", "kcp"}, in: ":7001", want: "udp://:7001"},
		{name: "one scheme", ss: Schemes{"tcp"}, in: "unix:///s", err: "scheme must be tcp"},
		{name: "empty set takes any", ss: nil, in: "wss://h", want: "wss://h/ws"},
		{name: "empty set implies none", ss: nil, in: "h:1", err: "missing scheme"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.ss.Parse(tt.in)
			if tt.err != "" {
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Reason, tt.err) || e.Input != tt.in {
					t.Fatalf("%v.Parse(%q) = %v, %v; want an *Error with %q", tt.ss, tt.in, a, err, tt.err)
				}
				return
			}
			if err != nil || a.String() != tt.want {
				t.Fatalf("%v.Parse(%q) = %v, %v; want %s", tt.ss, tt.in, a, err, tt.want)
			}
		})
	}
}

// TestTableComplete checks that every row of the scheme table parses and
// prints as documented, so that a new row cannot be half-added.
func TestTableComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range table {
		if seen[sc.name] || sc.name != strings.ToLower(sc.name) {
			t.Errorf("scheme %q: duplicate or not lower case", sc.name)
		}
		seen[sc.name] = true
		in := sc.name + "://127.0.0.1:1"
		switch {
		case sc.file:
			in = sc.name + ":///tmp/x.sock"
		case sc.family == 6:
			in = sc.name + "://[::1]:1"
		}
		a, err := Parse(in, "")
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if a.Network() == "" || a.Secure() != sc.secure || (sc.path != "" || sc.file) != (a.Path != "") {
			t.Errorf("%s: Network %q, Secure %v, Path %q do not match the table", in, a.Network(), a.Secure(), a.Path)
		}
		if b, err := Parse(a.String(), ""); err != nil || b != a {
			t.Errorf("%s: round trip gave %+v, %v", in, b, err)
		}
	}
	if got := Known().String(); !strings.HasPrefix(got, "tcp, ") {
		t.Errorf("Known() = %s", got)
	}
}

func TestZeroAddr(t *testing.T) {
	var a Addr
	if !a.IsZero() || a.String() != "" || a.Network() != "" || a.Secure() {
		t.Errorf("zero Addr: IsZero %v, String %q, Network %q, Secure %v", a.IsZero(), a.String(), a.Network(), a.Secure())
	}
}

func TestText(t *testing.T) {
	a := MustParse("tcp6://[::1]:7000")
	text, err := a.MarshalText()
	if err != nil || string(text) != "tcp6://[::1]:7000" {
		t.Fatalf("MarshalText = %q, %v", text, err)
	}
	var b Addr
	if err := b.UnmarshalText(text); err != nil || b != a {
		t.Fatalf("UnmarshalText = %+v, %v", b, err)
	}
	if err := b.UnmarshalText(nil); err != nil || !b.IsZero() {
		t.Fatalf("UnmarshalText(empty) = %+v, %v; want the zero Addr", b, err)
	}
	if err := b.UnmarshalText([]byte(":7000")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UnmarshalText without a scheme: %v; want ErrInvalid", err)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a bad address did not panic")
		}
	}()
	MustParse("tcp://:x")
}
