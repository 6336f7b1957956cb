package lossy

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"all", Config{Loss: 0.15, Duplicate: 0.05, Reorder: 0.1, ReorderDelay: time.Millisecond, Latency: time.Millisecond}, true},
		{"loss above 1", Config{Loss: 1.5}, false},
		{"negative reorder", Config{Reorder: -0.1}, false},
		{"negative latency", Config{Latency: -1}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadConfig)) {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
}

// pair returns a wrapped sender and a plain receiver on loopback.
func pair(t *testing.T, cfg Config) (*Conn, net.PacketConn) {
	t.Helper()
	a, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.(*net.UDPConn).SetReadBuffer(4 << 20)
	c := Wrap(a, cfg)
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

// exchange sends n numbered datagrams and returns the numbers received, in
// order, until the line is quiet.
func exchange(t *testing.T, c *Conn, b net.PacketConn, n int) []uint32 {
	t.Helper()
	buf := make([]byte, 4)
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := c.WriteTo(buf, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if i%64 == 0 {
			time.Sleep(100 * time.Microsecond) // stay under the receive buffer
		}
	}
	var got []uint32
	for {
		b.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		m, _, err := b.ReadFrom(buf)
		if err != nil {
			return got
		}
		if m == 4 {
			got = append(got, binary.BigEndian.Uint32(buf))
		}
	}
}

func TestImpairments(t *testing.T) {
	const n = 4000
	tests := []struct {
		name string
		cfg  Config
		// bounds on what arrives
		minLost, maxLost int // n - distinct received
		wantDup, wantOOO bool
	}{
		{"clean", Config{}, 0, 0, false, false},
		{"15% loss", Config{Loss: 0.15, Seed: 1}, n * 12 / 100, n * 18 / 100, false, false},
		{"duplicates", Config{Duplicate: 0.1, Seed: 2}, 0, 0, true, false},
		{"reordering", Config{Reorder: 0.1, ReorderDelay: 2 * time.Millisecond, Seed: 3}, 0, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, b := pair(t, tt.cfg)
			got := exchange(t, c, b, n)
			seen := map[uint32]bool{}
			dup, ooo := false, false
			var prev uint32
			for i, v := range got {
				if seen[v] {
					dup = true
				}
				seen[v] = true
				if i > 0 && v < prev {
					ooo = true
				}
				prev = v
			}
			lost := n - len(seen)
			if lost < tt.minLost || lost > tt.maxLost {
				t.Fatalf("lost %d of %d, want %d..%d", lost, n, tt.minLost, tt.maxLost)
			}
			if dup != tt.wantDup || ooo != tt.wantOOO {
				t.Fatalf("duplicates %v reordered %v, want %v %v", dup, ooo, tt.wantDup, tt.wantOOO)
			}
			st := c.Stats()
			if st.Written != n || int(st.Dropped) != lost {
				t.Fatalf("stats %+v: want %d written and %d dropped", st, n, lost)
			}
		})
	}
}

func TestSeedReplays(t *testing.T) {
	cfg := Config{Loss: 0.3, Seed: 42}
	var drops [2]uint64
	for i := range drops {
		c, b := pair(t, cfg)
		exchange(t, c, b, 500)
		drops[i] = c.Stats().Dropped
	}
	if drops[0] != drops[1] {
		t.Fatalf("same seed dropped %d then %d", drops[0], drops[1])
	}
}

func TestLatencyAndClose(t *testing.T) {
	c, b := pair(t, Config{Latency: 30 * time.Millisecond})
	start := time.Now()
	c.WriteTo([]byte("late"), b.LocalAddr())
	buf := make([]byte, 16)
	b.SetReadDeadline(time.Now().Add(time.Second))
	if _, _, err := b.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("arrived after %v, want >= 30ms", d)
	}
	c.WriteTo([]byte("dropped by Close"), b.LocalAddr())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(60 * time.Millisecond))
	if _, _, err := b.ReadFrom(buf); err == nil {
		t.Fatal("a datagram delayed at Close was sent")
	}
	if _, err := c.WriteTo([]byte("x"), b.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
}
