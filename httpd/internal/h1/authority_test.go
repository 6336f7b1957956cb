package h1

import (
	"net/netip"
	"testing"
)

func TestValidAuthority(t *testing.T) {
	tests := []struct {
		a        string
		ok       bool // as a Host value
		withPort bool // as authority-form
	}{
		{a: "example.com", ok: true},
		{a: "example.com:8080", ok: true, withPort: true},
		{a: "example.com:", ok: true},
		{a: "EXAMPLE.com.", ok: true},
		{a: "under_score-and~tilde", ok: true},
		{a: "sub!$&'()*+,;=delims", ok: true},
		{a: "127.0.0.1:80", ok: true, withPort: true},
		{a: "[::1]", ok: true},
		{a: "[::1]:443", ok: true, withPort: true},
		{a: "[::]", ok: true},
		{a: "[1::]", ok: true},
		{a: "[1:2:3:4:5:6:7:8]", ok: true},
		{a: "[::ffff:192.0.2.1]:80", ok: true, withPort: true},
		{a: "[fe80::1%25eth0]:8080", ok: true, withPort: true},
		{a: "[fe80::1%25%41]", ok: true},
		{a: ""},
		{a: ":80"},
		{a: "a:b"},
		{a: "a:1:2"},
		{a: "::0"},
		{a: "a b"},
		{a: "u@a"},
		{a: "a/b"},
		{a: "a%41"},
		{a: "[::1"},
		{a: "[::1]x"},
		{a: "[::1]:x"},
		{a: "x[::1]"},
		{a: "[]"},
		{a: "[1.2.3.4]"},
		{a: "[1:2:3:4:5:6:7:8:9]"},
		{a: "[1:2:3:4:5:6:7]"},
		{a: "[1::2::3]"},
		{a: "[12345::]"},
		{a: "[1:]"},
		{a: "[:1]"},
		{a: "[::ffff:1.2.3]"},
		{a: "[::ffff:1.2.3.256]"},
		{a: "[::ffff:1.02.3.4]"},
		{a: "[fe80::1%eth0]"},
		{a: "[fe80::1%25]"},
		{a: "[v1.fe80::a]"},
		{a: "[fe80::1%25a!]"},
		{a: "[1g::]"},
		{a: "[::ffff:1234.1.1.1]"},
	}
	for _, tt := range tests {
		if got := validAuthority([]byte(tt.a), false); got != tt.ok {
			t.Errorf("validAuthority(%q, false) = %v", tt.a, got)
		}
		if got := validAuthority([]byte(tt.a), true); got != tt.withPort {
			t.Errorf("validAuthority(%q, true) = %v", tt.a, got)
		}
	}
}

// TestValidIPv6 holds validIPv6 to net/netip on addresses built from
// every pattern of groups, ellipsis and IPv4 tail up to the legal length.
func TestValidIPv6(t *testing.T) {
	parts := []string{"", "0", "1", "ffff", "FfFf", "12345", "g", "1.2.3.4", "1.2.3", "::"}
	var check func(s string, depth int)
	check = func(s string, depth int) {
		want := false
		if a, err := netip.ParseAddr(s); err == nil {
			want = a.Is6() && a.Zone() == ""
		}
		if got := validIPv6([]byte(s)); got != want {
			t.Errorf("validIPv6(%q) = %v, netip says %v", s, got, want)
		}
		if depth == 0 {
			return
		}
		for _, p := range parts {
			check(s+":"+p, depth-1)
			if s == "" {
				check(p, depth-1)
			}
		}
	}
	check("", 5)
	for _, s := range []string{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9"} {
		_, err := netip.ParseAddr(s)
		if got := validIPv6([]byte(s)); got != (err == nil) {
			t.Errorf("validIPv6(%q) = %v, netip says %v", s, got, err)
		}
	}
}
