package loadgen

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	ips := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	tests := []struct {
		name string
		in   string
		want []netip.Addr
		err  bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "one", in: "127.0.0.2", want: ips("127.0.0.2")},
		{name: "list", in: "127.0.0.2, 127.0.0.5,10.0.0.1", want: ips("127.0.0.2", "127.0.0.5", "10.0.0.1")},
		{name: "range", in: "127.0.0.2-127.0.0.4", want: ips("127.0.0.2", "127.0.0.3", "127.0.0.4")},
		{name: "last byte range", in: "127.0.0.2-4", want: ips("127.0.0.2", "127.0.0.3", "127.0.0.4")},
		{name: "range over a byte boundary", in: "10.0.0.254-10.0.1.1", want: ips("10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1")},
		{name: "single-address range", in: "127.0.0.9-127.0.0.9", want: ips("127.0.0.9")},
		{name: "duplicates removed", in: "127.0.0.2-3,127.0.0.3,127.0.0.2", want: ips("127.0.0.2", "127.0.0.3")},
		{name: "ipv6 range", in: "::1-::3", want: ips("::1", "::2", "::3")},
		{name: "mapped ipv4 unmapped", in: "::ffff:127.0.0.2", want: ips("127.0.0.2")},
		{name: "trailing comma", in: "127.0.0.2,", want: ips("127.0.0.2")},
		{name: "backwards", in: "127.0.0.9-127.0.0.2", err: true},
		{name: "backwards last byte", in: "127.0.0.9-2", err: true},
		{name: "mixed families", in: "127.0.0.1-::1", err: true},
		{name: "not an address", in: "localhost", err: true},
		{name: "bad end", in: "127.0.0.1-x", err: true},
		{name: "last byte over 255", in: "127.0.0.1-256", err: true},
		{name: "last byte for ipv6", in: "::1-5", err: true},
		{name: "too many", in: "10.0.0.0-10.1.0.0", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSources(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadRange) {
					t.Fatalf("ParseSources(%q) = %v, %v; want ErrBadRange", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSources(%q): %v", tt.in, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("ParseSources(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSourcesLimit(t *testing.T) {
	got, err := ParseSources("10.0.0.0-10.0.255.255")
	if err != nil || len(got) != MaxSources {
		t.Fatalf("a /16 as a range: %d addresses, %v; want %d", len(got), err, MaxSources)
	}
}

func FuzzParseSources(f *testing.F) {
	for _, s := range []string{"", "127.0.0.2", "127.0.0.2-127.0.0.60", "127.0.0.2-60", "::1-::9", "1.2.3.4,5.6.7.8-9", "a-b", "-", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSources(s)
		if err != nil {
			if !errors.Is(err, ErrBadRange) {
				t.Fatalf("error %v does not match ErrBadRange", err)
			}
			return
		}
		if len(got) > MaxSources {
			t.Fatalf("%d addresses, over MaxSources", len(got))
		}
		seen := map[netip.Addr]bool{}
		for _, a := range got {
			if seen[a] || !a.IsValid() || a.Is4In6() {
				t.Fatalf("bad or duplicate address %v in %v", a, got)
			}
			seen[a] = true
		}
		// Printing the list back gives the same list.
		var parts []string
		for _, a := range got {
			parts = append(parts, a.String())
		}
		again, err := ParseSources(strings.Join(parts, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("round trip of %v gave %v, %v", got, again, err)
		}
	})
}

func TestParseAddrs(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{in: "127.0.0.1:7000", want: "[127.0.0.1:7000]"},
		{in: "127.0.0.1:7000, 127.0.0.1:7002", want: "[127.0.0.1:7000 127.0.0.1:7002]"},
		{in: ":7000", want: "[127.0.0.1:7000]"},
		{in: "[::1]:7000", want: "[[::1]:7000]"},
		{in: "localhost:http", want: "[localhost:http]"},
		{in: "", err: true},
		{in: "127.0.0.1", err: true},
		{in: "127.0.0.1:", err: true},
		{in: ",,", err: true},
	}
	for _, tt := range tests {
		got, err := ParseAddrs(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadAddr) {
				t.Errorf("ParseAddrs(%q) = %v, %v; want ErrBadAddr", tt.in, got, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("ParseAddrs(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
