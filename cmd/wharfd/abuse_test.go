//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wharf/client"
	"wharf/kcp"
	"wharf/packet"
)

// TestAbuse runs wharfd on its defaults (but for a lower per-address cap,
// to keep the test small) and plays each attack of the hardening issue
// against it while honest clients use it at the same time: each attack is
// refused, and the honest traffic is served.
func TestAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of real bcrypt and attack traffic")
	}
	dir := t.TempDir()
	port, httpPort, adminPort, kcpPort := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "wharf.toml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `pid_file = %q
[server]
listen = "127.0.0.1:%d"
max_connections_per_ip = 40
stats_interval = "0s"
[http]
listen = "127.0.0.1:%d"
[admin]
listen = "127.0.0.1:%d"
[kcp]
listen = "127.0.0.1:%d"
max_sessions = 200
`, filepath.Join(dir, "wharfd.pid"), port, httpPort, adminPort, kcpPort), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	startWharfd(t, dir, "-c", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// dial connects a packet client from source address src.
	dial := func(t *testing.T, src string, onPush func(uint16, []byte)) *client.Client {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := client.Dial(ctx, addr, client.Config{Dialer: d.DialContext, PushCodes: []uint16{8}, OnPush: onPush})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	honest := dial(t, "127.0.0.1", nil)
	for _, u := range []string{"alice", "bob"} {
		if _, err := honest.Register(ctx, u, "honest password"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("register storm", func(t *testing.T) {
		// 40 addresses register as fast as they can for 4 s: more bcrypt
		// work than the machine has. Logins go first for a hashing slot,
		// so the honest user logs in all along, within the login wait.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var refused, done atomic.Int64
		for i := range 40 {
			c := dial(t, fmt.Sprintf("127.0.0.%d", 10+i), nil)
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := c.Register(ctx, fmt.Sprintf("storm%d_%d", i, n), "storm password"); err != nil {
						refused.Add(1)
					} else {
						done.Add(1)
					}
				}
			})
		}
		var slowest time.Duration
		for range 8 {
			c := dial(t, "127.0.0.1", nil)
			start := time.Now()
			if _, _, err := c.Login(ctx, "alice", "honest password"); err != nil {
				t.Errorf("honest login during the storm: %v", err)
			}
			slowest = max(slowest, time.Since(start))
			c.Close()
			time.Sleep(300 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if slowest >= 5*time.Second { // [chat] login_wait
			t.Errorf("the slowest honest login took %v, past the login wait", slowest)
		}
		if refused.Load() == 0 {
			t.Errorf("the storm was never refused (%d registrations done)", done.Load())
		}
		t.Logf("storm: %d registrations done, %d refused; the slowest honest login took %v", done.Load(), refused.Load(), slowest)
	})

	t.Run("login burst", func(t *testing.T) {
		// 40 parallel guesses of bob's password from one address: at most
		// 10 are checked, and bob, elsewhere, logs in.
		c := dial(t, "127.0.0.55", nil)
		var wg sync.WaitGroup
		var checked, limited atomic.Int64
		for range 40 {
			wg.Go(func() {
				_, _, err := c.Login(ctx, "bob", "a wrong guess")
				var ae *client.AppError
				if errors.As(err, &ae) {
					checked.Add(1) // "invalid username or password"
				} else if err != nil {
					limited.Add(1) // a code 1 refusal with retry_after
				}
			})
		}
		wg.Wait()
		if checked.Load() > 10 || limited.Load() < 30 {
			t.Errorf("%d guesses checked, %d refused: want at most 10 checked", checked.Load(), limited.Load())
		}
		if _, _, err := dial(t, "127.0.0.1", nil).Login(ctx, "bob", "honest password"); err != nil {
			t.Errorf("bob at his own address after the burst: %v", err)
		}
	})

	t.Run("say flood", func(t *testing.T) {
		var fromMallory atomic.Int64
		got := make(chan string, 1000)
		bob := dial(t, "127.0.0.1", func(_ uint16, body []byte) {
			got <- string(body)
			if containsFrom(body, "mallory") {
				fromMallory.Add(1)
			}
		})
		if _, _, err := bob.Login(ctx, "bob", "honest password"); err != nil {
			t.Fatal(err)
		}
		mallory := dial(t, "127.0.0.56", nil)
		mallory.Register(ctx, "mallory", "mallory's password")
		if _, _, err := mallory.Login(ctx, "mallory", "mallory's password"); err != nil {
			t.Fatal(err)
		}
		var accepted int
		for range 200 {
			if mallory.Say(ctx, "spam") == nil {
				accepted++
			}
		}
		if accepted > 12 {
			t.Errorf("%d of 200 says accepted from one user in a burst, want about 10", accepted)
		}
		alice := dial(t, "127.0.0.1", nil)
		alice.Login(ctx, "alice", "honest password")
		if err := alice.Say(ctx, "honest words"); err != nil {
			t.Fatalf("alice's say during the flood: %v", err)
		}
		deadline := time.After(20 * time.Second)
		for {
			select {
			case m := <-got:
				if containsFrom([]byte(m), "alice") {
					if n := fromMallory.Load(); n > 12 {
						t.Errorf("bob got %d of mallory's messages", n)
					}
					return
				}
			case <-deadline:
				t.Fatal("alice's message never reached bob")
			}
		}
	})

	t.Run("per-address connection flood", func(t *testing.T) {
		// One address opens 60 connections; the 41st and after are told
		// and closed. Another address connects as usual.
		var open []net.Conn
		refused := 0
		for range 60 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.57")}}
			nc, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			packet.WritePacket(nc, packet.CodePing, nil)
			if code, _, err := packet.NewReader(nc).ReadPacket(); err == nil && code == packet.CodePing {
				open = append(open, nc)
			} else {
				refused++
			}
		}
		if len(open) != 40 || refused != 20 {
			t.Errorf("%d served and %d refused from one address, want 40 and 20", len(open), refused)
		}
		if _, err := dial(t, "127.0.0.1", nil).Ping(ctx); err != nil {
			t.Errorf("an honest client from another address: %v", err)
		}
	})

	t.Run("kcp forged sessions", func(t *testing.T) {
		// First segments from addresses that never answer, while an honest
		// KCP client connects: the session table never fills.
		target := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: kcpPort}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			var socks []*net.UDPConn
			for i := range 300 {
				uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 1, byte(i%250+1))})
				if err != nil {
					continue
				}
				defer uc.Close()
				socks = append(socks, uc)
			}
			ping, _ := packet.Encode(packet.CodePing, nil)
			seg := make([]byte, 24+len(ping))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				binary.LittleEndian.PutUint32(seg[0:], uint32(n)) // conv
				seg[4] = 81                                       // PUSH, sn 0
				binary.LittleEndian.PutUint16(seg[6:], 32)
				binary.LittleEndian.PutUint32(seg[20:], uint32(len(ping)))
				copy(seg[24:], ping)
				socks[n%len(socks)].WriteToUDP(seg, target)
				if n%100 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
		defer func() { close(stop); wg.Wait() }()
		time.Sleep(time.Second) // the flood is on
		for i := range 5 {
			c, err := client.Dial(ctx, fmt.Sprintf("kcp://127.0.0.1:%d", kcpPort), client.Config{
				Dialer: func(ctx context.Context, _, a string) (net.Conn, error) { return kcp.Dial(ctx, a, kcp.Config{}) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Ping(ctx); err != nil {
				t.Errorf("honest KCP client %d during the flood: %v", i, err)
			}
			c.Close()
		}
	})
}

// containsFrom reports whether a chat push (code 8 JSON) is from user.
func containsFrom(body []byte, user string) bool {
	return strings.Contains(string(body), `"from":"`+user+`"`)
}
