package kcp

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"wharf/endpoint"
	"wharf/engine"
)

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		err  bool
	}{
		{"", ModeFast, false},
		{"fast", ModeFast, false},
		{"normal", ModeNormal, false},
		{"default", ModeDefault, false},
		{"turbo", "", true},
		{"Fast", "", true},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrBadMode) {
			t.Errorf("ParseMode(%q) error %v does not match ErrBadMode", tt.in, err)
		}
	}
}

func TestModeParams(t *testing.T) {
	// SPEC §6: ikcp_nodelay(nodelay, interval, resend, nc).
	tests := []struct {
		mode Mode
		want noDelay
	}{
		{ModeDefault, noDelay{0, 10, 0, 0, false}},
		{ModeNormal, noDelay{0, 10, 0, 1, false}},
		{ModeFast, noDelay{2, 10, 2, 1, true}},
	}
	for _, tt := range tests {
		if got := tt.mode.params(); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.mode, got, tt.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" if valid
	}{
		{"zero", Config{}, ""},
		{"bad mode", Config{Mode: "warp"}, "Mode"},
		{"negative window", Config{SendWindow: -1}, "SendWindow"},
		{"huge window", Config{RecvWindow: 70000}, "RecvWindow"},
		{"mtu too small", Config{MTU: 100}, "MTU"},
		{"mtu too large", Config{MTU: 9000}, "MTU"},
		{"fec half on", Config{DataShards: 10}, "DataShards"},
		{"negative sessions", Config{MaxSessions: -5}, "MaxSessions"},
		{"negative idle", Config{IdleTimeout: -time.Second}, "IdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Mode != ModeFast || got.SendWindow != 128 || got.RecvWindow != 128 || got.MTU != 1400 ||
					got.MaxSessions != 10000 || got.IdleTimeout != 60*time.Second || got.Engine.Kind != engine.Goroutine || got.Engine.Clock == nil || got.Engine.Logger == nil {
					t.Fatalf("defaults: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) || !strings.HasPrefix(err.Error(), "kcp: ") {
				t.Fatalf("error %v, want one naming %s", err, tt.field)
			}
		})
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, network, address string
		err                  bool
	}{
		{"udp://:7001", "udp", ":7001", false},
		{"udp4://127.0.0.1:7001", "udp4", "127.0.0.1:7001", false},
		{"udp6://[::1]:7001", "udp6", "[::1]:7001", false},
		{"kcp://host:7001", "udp", "host:7001", false},
		{"127.0.0.1:7001", "udp", "127.0.0.1:7001", false},
		{"tcp://:7000", "", "", true},
		{"udp://", "", "", true},
		{"udp://:7001/x", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		a, err := parseAddr(tt.in)
		if (err != nil) != tt.err || a.Network() != tt.network || tt.network != "" && a.Address() != tt.address {
			t.Errorf("parseAddr(%q) = %q, %q, %v", tt.in, a.Network(), a.Address(), err)
		}
		if err != nil && (!errors.Is(err, ErrBadAddr) || !errors.Is(err, endpoint.ErrInvalid)) {
			t.Errorf("parseAddr(%q): %v does not match ErrBadAddr and endpoint.ErrInvalid", tt.in, err)
		}
	}
}

func TestListenAddresses(t *testing.T) {
	for _, addr := range []string{"udp://127.0.0.1:0", "udp4://127.0.0.1:0", "127.0.0.1:0"} {
		tr, err := Listen(addr, Config{Logger: quietLogger()}, &echoHandler{})
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		if a, ok := tr.Addr().(*net.UDPAddr); !ok || a.Port == 0 {
			t.Fatalf("Listen(%q): Addr %v", addr, tr.Addr())
		}
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Listen("tcp://127.0.0.1:0", Config{}, &echoHandler{}); !errors.Is(err, ErrBadAddr) {
		t.Fatalf("Listen(tcp) = %v, want ErrBadAddr", err)
	}
}

// TestServeBadEngineConfig: an invalid Config.Engine fails Serve with an
// error naming the field, and leaves the socket to the caller.
func TestServeBadEngineConfig(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, err = Serve(pc, Config{Logger: quietLogger(), Engine: engine.Config{WriteHighWater: 10, WriteLowWater: 20}}, &echoHandler{})
	if err == nil || !strings.HasPrefix(err.Error(), "kcp: ") || !strings.Contains(err.Error(), "WriteLowWater") {
		t.Fatalf("Serve = %v, want an error naming WriteLowWater", err)
	}
}

// TestClientConnErrors checks the net.Conn conventions of a dialed session:
// timeouts are net.Errors with Timeout() (os.ErrDeadlineExceeded), a past
// deadline fails at once, and Close unblocks a Read with net.ErrClosed.
// (nettest.TestConn cannot run on KCP: it needs io.EOF after the peer
// closes, and KCP has no close handshake.)
func TestClientConnErrors(t *testing.T) {
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	tr, err := Serve(pc, Config{Logger: quietLogger()}, &echoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	nc, err := Dial(context.Background(), tr.Addr().String(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)

	nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = nc.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	nc.SetWriteDeadline(time.Now().Add(-time.Second))
	if n, err := nc.Write([]byte("x")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write with a past deadline: %d, %v", n, err)
	}
	nc.SetDeadline(time.Time{})
	if _, err := nc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if n, err := nc.Read(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo: %q, %v", buf[:n], err)
	}

	done := make(chan error)
	go func() { _, err := nc.Read(buf); done <- err }()
	time.Sleep(20 * time.Millisecond)
	nc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
	if _, err := nc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := nc.Close(); err == nil {
		t.Fatal("second Close reported no error")
	}
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, "127.0.0.1:7001", Config{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled context: %v", err)
	}
	if _, err := Dial(context.Background(), "tcp://127.0.0.1:7001", Config{}); !errors.Is(err, ErrBadAddr) {
		t.Fatalf("Dial tcp: %v", err)
	}
	if _, err := Dial(context.Background(), "127.0.0.1:7001", Config{Mode: "x"}); !errors.Is(err, ErrBadMode) {
		t.Fatalf("Dial with a bad mode: %v", err)
	}
}
