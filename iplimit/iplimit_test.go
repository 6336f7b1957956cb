package iplimit

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
		str  string
	}{
		{"IPv4 is its own key", "192.0.2.1", "192.0.2.1", true, "192.0.2.1"},
		{"IPv4 neighbours differ", "192.0.2.1", "192.0.2.2", false, "192.0.2.1"},
		{"IPv4-mapped IPv6 is the IPv4", "::ffff:192.0.2.1", "192.0.2.1", true, "192.0.2.1"},
		{"IPv6 in one /64 share a key", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true, "2001:db8:1:2::/64"},
		{"IPv6 in the next /64 differ", "2001:db8:1:2::1", "2001:db8:1:3::1", false, "2001:db8:1:2::/64"},
		{"IPv4 and IPv6 with the same bits differ", "0.0.0.1", "::1", false, "0.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := KeyOf(netip.MustParseAddr(tt.a)), KeyOf(netip.MustParseAddr(tt.b))
			if (ka == kb) != tt.same {
				t.Fatalf("KeyOf(%s) == KeyOf(%s) is %v, want %v", tt.a, tt.b, ka == kb, tt.same)
			}
			if ka.String() != tt.str {
				t.Fatalf("String() = %q, want %q", ka.String(), tt.str)
			}
		})
	}
	if KeyOf(netip.Addr{}).IsValid() {
		t.Fatal("the zero Addr has a valid key")
	}
	tcp := &net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 9}
	if k, ok := KeyOfNetAddr(tcp); !ok || k != KeyOf(netip.MustParseAddr("198.51.100.7")) {
		t.Fatalf("KeyOfNetAddr(%v) = %v, %v", tcp, k, ok)
	}
	if _, ok := KeyOfNetAddr(&net.UnixAddr{Name: "/tmp/s", Net: "unix"}); ok {
		t.Fatal("a Unix address has a key")
	}
	if n := testing.AllocsPerRun(100, func() { KeyOfNetAddr(tcp) }); n != 0 {
		t.Fatalf("KeyOfNetAddr allocates %v times", n)
	}
}

func TestConns(t *testing.T) {
	c, err := NewConns(2)
	if err != nil {
		t.Fatal(err)
	}
	a, b := KeyOf(netip.MustParseAddr("192.0.2.1")), KeyOf(netip.MustParseAddr("2001:db8::1"))
	steps := []struct {
		op   string
		k    Key
		want bool
	}{
		{"acquire", a, true}, {"acquire", a, true}, {"acquire", a, false},
		{"acquire", b, true},
		{"release", a, true}, {"acquire", a, true}, {"acquire", a, false},
	}
	for i, s := range steps {
		switch s.op {
		case "acquire":
			if got := c.Acquire(s.k); got != s.want {
				t.Fatalf("step %d: Acquire(%v) = %v, want %v", i, s.k, got, s.want)
			}
		case "release":
			c.Release(s.k)
		}
	}
	if c.Count(a) != 2 || c.Count(b) != 1 || c.Sources() != 2 {
		t.Fatalf("counts a=%d b=%d sources=%d", c.Count(a), c.Count(b), c.Sources())
	}
	c.Release(a)
	c.Release(a)
	c.Release(b)
	if c.Sources() != 0 {
		t.Fatalf("Sources = %d after releasing everything: entries leak", c.Sources())
	}
	if !c.Acquire(Key{}) {
		t.Fatal("a connection without a source was refused")
	}
	c.Release(Key{})
	defer func() {
		if recover() == nil {
			t.Fatal("Release without Acquire did not panic")
		}
	}()
	c.Release(a)
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewConns(0); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "max") {
		t.Fatalf("NewConns(0): %v", err)
	}
	for _, cfg := range []LimiterConfig{{}, {Rate: -1}, {Rate: 1, Burst: -1}, {Rate: 1, MaxKeys: -1}} {
		if _, err := NewLimiter[string](cfg); !errors.Is(err, ErrConfig) {
			t.Fatalf("NewLimiter(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}

// TestConnsConcurrent: many goroutines acquiring and releasing the same
// few keys never exceed the limit, and end at zero (run with -race).
func TestConnsConcurrent(t *testing.T) {
	const max = 3
	c, _ := NewConns(max)
	keys := []Key{KeyOf(netip.MustParseAddr("192.0.2.1")), KeyOf(netip.MustParseAddr("192.0.2.2"))}
	var held [2]atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				ki := (g + i) % 2
				if c.Acquire(keys[ki]) {
					if n := held[ki].Add(1); n > max {
						t.Errorf("%d connections held for %v, limit %d", n, keys[ki], max)
					}
					held[ki].Add(-1)
					c.Release(keys[ki])
				}
			}
		}()
	}
	wg.Wait()
	if c.Sources() != 0 {
		t.Fatalf("Sources = %d at the end", c.Sources())
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestLimiterTokenBucket(t *testing.T) {
	clk := newClock()
	l, err := NewLimiter[string](LimiterConfig{Rate: 10, Burst: 3, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
		retry   time.Duration // when refused
	}{
		{0, "alice", true, 0}, {0, "alice", true, 0}, {0, "alice", true, 0}, // the burst
		{0, "alice", false, 100 * time.Millisecond},
		{0, "bob", true, 0}, // keys are independent
		{50 * time.Millisecond, "alice", false, 50 * time.Millisecond},
		{50 * time.Millisecond, "alice", true, 0}, // one token refilled (10/s)
		{0, "alice", false, 100 * time.Millisecond},
		{time.Second, "alice", true, 0}, {0, "alice", true, 0}, {0, "alice", true, 0}, // full again, no more than Burst
		{0, "alice", false, 100 * time.Millisecond},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		ok, retry := l.AllowN(s.key, 1)
		if ok != s.want || retry != s.retry {
			t.Fatalf("step %d (%s): AllowN = %v, %v; want %v, %v", i, s.key, ok, retry, s.want, s.retry)
		}
	}
	if ok, _ := l.AllowN("carol", 4); ok {
		t.Fatal("AllowN over Burst succeeded")
	}
}

// Entries expire once their bucket is full again, so memory follows the
// keys active recently, not every key ever seen.
func TestLimiterRefund(t *testing.T) {
	clock := newClock()
	l, err := NewLimiter[string](LimiterConfig{Rate: 1, Burst: 3, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !l.Allow("a") {
			t.Fatal("refused within the burst")
		}
	}
	if l.Allow("a") {
		t.Fatal("allowed past the burst")
	}
	l.Refund("a")
	if !l.Allow("a") {
		t.Fatal("a refunded token was not given back")
	}
	l.Refund("never seen") // nothing to give back: no effect, no panic
	for range 3 {
		l.Refund("a")
	}
	for range 3 {
		if !l.Allow("a") {
			t.Fatal("refused after refunds")
		}
	}
	if l.Allow("a") {
		t.Fatal("refunds filled the bucket above its burst")
	}
}

func TestLimiterEntriesExpire(t *testing.T) {
	clk := newClock()
	l, _ := NewLimiter[Key](LimiterConfig{Rate: 1, Burst: 2, Clock: clk.Now})
	for i := range 5000 {
		l.Allow(KeyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})))
	}
	if l.Len() != 5000 {
		t.Fatalf("Len = %d, want 5000", l.Len())
	}
	clk.Advance(3 * time.Second) // every bucket full again, a sweep period passed
	// Shards sweep when used: some traffic reaches every shard.
	for i := range 1000 {
		l.Allow(KeyOf(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})))
	}
	if n := l.Len(); n > 1000 {
		t.Fatalf("Len = %d after the buckets refilled, want <= 1000 (the new keys)", n)
	}
}

// Over MaxKeys, new keys share one overflow bucket; tracked keys keep
// their own.
func TestLimiterMaxKeys(t *testing.T) {
	clk := newClock()
	l, _ := NewLimiter[string](LimiterConfig{Rate: 1, Burst: 1, MaxKeys: 64, Clock: clk.Now})
	allowed := 0
	for i := range 10000 {
		if l.Allow(fmt.Sprint("user", i)) {
			allowed++
		}
	}
	if n := l.Len(); n > 64+shards {
		t.Fatalf("Len = %d, want at most MaxKeys (64, rounded up per shard)", n)
	}
	// At most one event per tracked key plus one for the overflow bucket.
	if allowed > l.Len()+1 {
		t.Fatalf("%d events allowed for %d tracked keys: the overflow bucket is not shared", allowed, l.Len())
	}
	if allowed < 32 {
		t.Fatalf("only %d keys allowed: the cap refused keys it had room for", allowed)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	clk := newClock()
	l, _ := NewLimiter[string](LimiterConfig{Rate: 1, Burst: 100, Clock: clk.Now})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if l.Allow("shared") {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 100 {
		t.Fatalf("%d events allowed on a frozen clock, want exactly Burst (100)", allowed.Load())
	}
}

func TestZeroAllocs(t *testing.T) {
	c, _ := NewConns(10)
	k := KeyOf(netip.MustParseAddr("192.0.2.9"))
	if n := testing.AllocsPerRun(1000, func() { c.Acquire(k); c.Release(k) }); n != 0 {
		t.Errorf("Acquire+Release allocate %v times", n)
	}
	lk, _ := NewLimiter[Key](LimiterConfig{Rate: 1e6, Burst: 1e6})
	ls, _ := NewLimiter[string](LimiterConfig{Rate: 1e6, Burst: 1e6})
	user := strings.Repeat("u", 20)
	lk.Allow(k)
	ls.Allow(user)
	if n := testing.AllocsPerRun(1000, func() { lk.Allow(k); ls.Allow(user) }); n != 0 {
		t.Errorf("Allow allocates %v times", n)
	}
}

// TestLeafPackage keeps iplimit a leaf: the standard library only.
func TestLeafPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "wharf/iplimit" && (strings.HasPrefix(dep, "wharf/") || strings.Contains(dep, ".") && !strings.HasPrefix(dep, "vendor/")) {
			t.Errorf("iplimit depends on %s", dep)
		}
	}
}

func BenchmarkConns(b *testing.B) {
	c, _ := NewConns(1 << 20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i uint32
		for pb.Next() {
			i++
			k := KeyOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
			c.Acquire(k)
			c.Release(k)
		}
	})
}

func BenchmarkLimiter(b *testing.B) {
	for _, keys := range []int{1, 1000, 100000} {
		b.Run(fmt.Sprintf("ip/keys=%d", keys), func(b *testing.B) {
			l, _ := NewLimiter[Key](LimiterConfig{Rate: 1e6, Burst: 1000, MaxKeys: 1 << 20})
			ks := make([]Key, keys)
			for i := range ks {
				ks[i] = KeyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					l.Allow(ks[i%keys])
					i++
				}
			})
		})
	}
	b.Run("user", func(b *testing.B) {
		l, _ := NewLimiter[string](LimiterConfig{Rate: 1e6, Burst: 1000})
		users := []string{"alice", "bob", "carol", "dave"}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Allow(users[i%len(users)])
				i++
			}
		})
	})
	b.Run("overflow", func(b *testing.B) { // every key new, the cap reached
		l, _ := NewLimiter[Key](LimiterConfig{Rate: 1, Burst: 1, MaxKeys: 1024})
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			i++
			l.Allow(KeyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})))
		}
	})
}
