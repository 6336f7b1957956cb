package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

var clientIPTests = []struct {
	name    string
	remote  string
	xff     []string
	trusted []string
	want    string
}{
	{name: "direct", remote: "192.0.2.1:5000", want: "192.0.2.1"},
	{name: "direct ipv6", remote: "[2001:db8::1]:5000", want: "2001:db8::1"},
	{name: "ipv4-mapped", remote: "[::ffff:192.0.2.1]:5000", want: "192.0.2.1"},
	{name: "untrusted peer's XFF ignored", remote: "192.0.2.1:5000", xff: []string{"203.0.113.9"}, want: "192.0.2.1"},
	{name: "trusted proxy", remote: "10.0.0.2:5000", xff: []string{"203.0.113.9"}, trusted: []string{"10.0.0.0/8"}, want: "203.0.113.9"},
	{name: "client-written hops ignored", remote: "10.0.0.2:5000", xff: []string{"1.1.1.1, 203.0.113.9"}, trusted: []string{"10.0.0.0/8"}, want: "203.0.113.9"},
	{name: "chain of proxies", remote: "10.0.0.2:5000", xff: []string{"203.0.113.9, 10.0.0.7", "10.0.0.3"}, trusted: []string{"10.0.0.0/8"}, want: "203.0.113.9"},
	{name: "only proxies", remote: "10.0.0.2:5000", xff: []string{"10.0.0.9, 10.0.0.7"}, trusted: []string{"10.0.0.0/8"}, want: "10.0.0.9"},
	{name: "hop with port", remote: "10.0.0.2:5000", xff: []string{"203.0.113.9:4711"}, trusted: []string{"10.0.0.0/8"}, want: "203.0.113.9"},
	{name: "ipv6 hop in brackets", remote: "10.0.0.2:5000", xff: []string{"[2001:db8::7]:4711"}, trusted: []string{"10.0.0.0/8"}, want: "2001:db8::7"},
	{name: "garbage from a proxy", remote: "10.0.0.2:5000", xff: []string{"203.0.113.9, junk"}, trusted: []string{"10.0.0.0/8"}, want: "10.0.0.2"},
	{name: "no XFF from a proxy", remote: "10.0.0.2:5000", trusted: []string{"10.0.0.0/8"}, want: "10.0.0.2"},
	{name: "empty hops", remote: "10.0.0.2:5000", xff: []string{" , 203.0.113.9 ,"}, trusted: []string{"10.0.0.0/8"}, want: "203.0.113.9"},
	{name: "not an IP peer", remote: "@unix", want: "@unix"},
}

func TestClientIP(t *testing.T) {
	for _, tt := range clientIPTests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{}
			for _, p := range tt.trusted {
				h.trusted = append(h.trusted, netip.MustParsePrefix(p))
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := h.clientIP(r); got != tt.want {
				t.Errorf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzClientIP: any header yields a parseable address, the peer's or a
// hop's, and never panics.
func FuzzClientIP(f *testing.F) {
	for _, tt := range clientIPTests {
		xff := ""
		if len(tt.xff) > 0 {
			xff = tt.xff[0]
		}
		f.Add(tt.remote, xff)
	}
	h := &Handler{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")}}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := h.clientIP(r)
		if _, ok := peer(r); ok {
			if _, err := netip.ParseAddr(got); err != nil {
				t.Fatalf("clientIP(%q, %q) = %q: not an address", remote, xff, got)
			}
		} else if got != remote {
			t.Fatalf("clientIP(%q, %q) = %q, want the raw peer", remote, xff, got)
		}
	})
}
