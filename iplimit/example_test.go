package iplimit_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"wharf/iplimit"
)

// A server admits at most two connections per source: Acquire when a
// connection opens, Release when it closes.
func ExampleConns() {
	conns, _ := iplimit.NewConns(2)
	src, _ := iplimit.KeyOfNetAddr(&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000})
	for i := range 3 {
		fmt.Println("connection", i, "admitted:", conns.Acquire(src))
	}
	conns.Release(src)
	fmt.Println("after one closed:", conns.Acquire(src))
	// Output:
	// connection 0 admitted: true
	// connection 1 admitted: true
	// connection 2 admitted: false
	// after one closed: true
}

// Logins are limited per user: a burst of 3, then one every 10 seconds.
// The clock is injected here to show the refill.
func ExampleLimiter() {
	now := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	logins, _ := iplimit.NewLimiter[string](iplimit.LimiterConfig{
		Rate: 0.1, Burst: 3, Clock: func() time.Time { return now },
	})
	for range 4 {
		ok, retry := logins.AllowN("alice", 1)
		fmt.Println(ok, retry)
	}
	now = now.Add(10 * time.Second)
	fmt.Println(logins.Allow("alice"))
	// Output:
	// true 0s
	// true 0s
	// true 0s
	// false 10s
	// true
}

// IPv6 sources are keyed by /64: every address of a host's prefix counts
// as one source.
func ExampleKeyOf() {
	a := iplimit.KeyOf(netip.MustParseAddr("2001:db8:5:6::1"))
	b := iplimit.KeyOf(netip.MustParseAddr("2001:db8:5:6:aaaa::9"))
	fmt.Println(a, a == b)
	// Output: 2001:db8:5:6::/64 true
}
