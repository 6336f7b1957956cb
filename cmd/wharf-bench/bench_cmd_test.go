package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"wharf/packet"
	"wharf/websocket"

	"wharf/httpd"
	"wharf/server"
)

func TestEcho(t *testing.T) {
	addr := startEcho(t)
	tests := []struct {
		name string
		args []string
		want func(t *testing.T, requests int64)
	}{
		{name: "ping-pong", args: []string{"-c", "20", "-d", "500ms", "-s", "64"}},
		{name: "pipelined", args: []string{"-c", "10", "-d", "500ms", "-s", "512", "-depth", "8"}},
		{name: "count", args: []string{"-c", "5", "-n", "1000", "-d", "0", "-depth", "4"},
			want: func(t *testing.T, n int64) {
				if n != 1000 {
					t.Errorf("requests = %d, want exactly -n 1000", n)
				}
			}},
		// 200/s over 4 connections for 1s: far below what loopback does
		// unpaced, so a count near 200 shows the pacing works.
		{name: "rate", args: []string{"-c", "4", "-d", "1s", "-rate", "200"},
			want: func(t *testing.T, n int64) {
				if n < 100 || n > 300 {
					t.Errorf("requests = %d at -rate 200 for 1s, want about 200", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, code, stderr := runJSON(t, append([]string{"echo", "-addr", addr, "-loops", "1"}, tt.args...)...)
			checkClean(t, res, code, stderr)
			if res.Conns.Opened != res.Conns.Target || res.Conns.Dropped != 0 {
				t.Errorf("connections %+v, want all opened, none dropped", res.Conns)
			}
			if res.BytesSent != res.Requests*int64(mustAtoi(t, res.Options["s"])) {
				t.Errorf("bytes_sent %d for %d requests of %s bytes", res.BytesSent, res.Requests, res.Options["s"])
			}
			if tt.want != nil {
				tt.want(t, res.Requests)
			}
		})
	}
}

func TestPacket(t *testing.T) {
	_, addr := startPacket(t, server.Config{FloodMode: server.FloodOff})
	tests := []struct {
		name string
		args []string
	}{
		{name: "ping", args: []string{"-mix", "ping", "-c", "10"}},
		{name: "ping-pipelined", args: []string{"-mix", "ping", "-c", "4", "-depth", "16"}},
		{name: "request", args: []string{"-mix", "request", "-code", "2", "-s", "100", "-c", "8", "-depth", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, code, stderr := runJSON(t, append([]string{"packet", "-addr", addr, "-d", "500ms", "-loops", "1"}, tt.args...)...)
			checkClean(t, res, code, stderr)
			if res.Logins != nil || res.Pushes != nil {
				t.Errorf("logins/pushes reported for -mix %s", tt.args[1])
			}
		})
	}
}

func TestPacketChat(t *testing.T) {
	addr := startChat(t)
	args := []string{"packet", "-addr", addr, "-mix", "chat", "-c", "6", "-d", "700ms", "-say-ratio", "0.5", "-s", "20", "-loops", "1"}
	for _, run := range []struct {
		name                 string
		registered, existing int64
	}{
		{"first run registers", 6, 0},
		{"second run logs the same users in", 0, 6},
	} {
		t.Run(run.name, func(t *testing.T) {
			res, code, stderr := runJSON(t, args...)
			checkClean(t, res, code, stderr)
			lg := res.Logins
			if lg == nil {
				t.Fatal("no logins section")
			}
			if lg.LoggedIn != 6 || lg.Failed != 0 || lg.Registered != run.registered || lg.Existing != run.existing {
				t.Errorf("logins %+v, want 6 logged in, %d registered, %d existing", *lg, run.registered, run.existing)
			}
			checkLatency(t, lg.Latency, 6)
			// Every say is pushed to every logged-in connection.
			if res.Pushes == nil || res.Pushes.Count == 0 || res.Pushes.PerS <= 0 {
				t.Errorf("pushes %+v, want some", res.Pushes)
			}
		})
	}
}

// With the flood guard's limits lowered, an unpaced ping-pong is kicked;
// the run must fail and say why.
func TestPacketFloodGuardHint(t *testing.T) {
	_, addr := startPacket(t, server.Config{FloodRate: 50, FloodBurst: 50})
	res, code, _ := runJSON(t, "packet", "-addr", addr, "-c", "3", "-d", "2s", "-loops", "1")
	if code != exitFailed || res.OK {
		t.Fatalf("exit %d ok=%v, want a failure", code, res.OK)
	}
	if res.Errors.ByKind["drop:server_closed"]+res.Errors.ByKind["drop:reset"] != 3 {
		t.Errorf("errors %v, want the 3 connections dropped by the server", res.Errors.ByKind)
	}
	if !strings.Contains(strings.Join(res.Hints, "\n"), `flood_rate`) {
		t.Errorf("hints %q do not explain the flood guard", res.Hints)
	}
	// Paced under the guard's 50 packets/s per connection, nothing is kicked.
	res, code, stderr := runJSON(t, "packet", "-addr", addr, "-c", "3", "-d", "1500ms", "-rate", "15", "-loops", "1")
	checkClean(t, res, code, stderr)
}

func TestHTTP(t *testing.T) {
	native := startHTTP(t, httpd.Config{Native: helloNative})
	chunked := startHTTP(t, httpd.Config{Handler: chunkedHandler})
	tests := []struct {
		name     string
		url      string
		args     []string
		bodySize int64 // per response
	}{
		{name: "native", url: native, args: []string{"-c", "8"}, bodySize: 13},
		{name: "native-pipelined", url: native, args: []string{"-c", "4", "-pipeline", "16"}, bodySize: 13},
		{name: "nethttp-chunked", url: chunked, args: []string{"-c", "4", "-pipeline", "4"}, bodySize: 21},
		{name: "count", url: native + "x?y=1", args: []string{"-c", "3", "-n", "300", "-d", "0", "-pipeline", "8"}, bodySize: 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, code, stderr := runJSON(t, append([]string{"http", "-url", tt.url, "-d", "500ms"}, tt.args...)...)
			checkClean(t, res, code, stderr)
			if got := res.StatusCodes["200"]; got != res.Requests || len(res.StatusCodes) != 1 {
				t.Errorf("status codes %v for %d requests, want all 200", res.StatusCodes, res.Requests)
			}
			if res.BytesReceived < res.Requests*tt.bodySize {
				t.Errorf("bytes_received %d for %d responses of a %d-byte body", res.BytesReceived, res.Requests, tt.bodySize)
			}
			if tt.name == "count" && res.Requests != 300 {
				t.Errorf("requests = %d, want exactly -n 300", res.Requests)
			}
		})
	}
}

func TestKCP(t *testing.T) {
	addr := startKCP(t)
	for _, mode := range []string{"default", "normal", "fast"} {
		t.Run(mode, func(t *testing.T) {
			res, code, stderr := runJSON(t, "kcp", "-addr", addr, "-mode", mode, "-c", "3", "-depth", "2", "-d", "500ms")
			checkClean(t, res, code, stderr)
		})
	}
}

// TestWS: the ws subcommand speaks the packet protocol over WebSocket to a
// message server behind a WebSocket endpoint, pipelined or not, with and
// without compression.
func TestWS(t *testing.T) {
	srv, _ := startPacket(t, server.Config{FloodMode: server.FloodOff})
	ws, err := websocket.NewStreamServer(websocket.Config{Subprotocols: []string{packet.WebSocketSubprotocol}, RequireSubprotocol: true, Compression: true}, srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(startHTTP(t, httpd.Config{Native: ws}), "http://"), "/")
	for _, args := range [][]string{{"-depth", "1"}, {"-depth", "4"}, {"-compress"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			res, code, stderr := runJSON(t, append([]string{"ws", "-addr", addr, "-c", "3", "-d", "500ms"}, args...)...)
			checkClean(t, res, code, stderr)
		})
	}
}

// The JSON result is one object whose top-level keys are the documented
// schema; scripts key on these names.
func TestJSONSchema(t *testing.T) {
	addr := startEcho(t)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"echo", "-addr", addr, "-c", "2", "-n", "10", "-d", "0", "-json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "command", "targets", "options", "started", "setup_s", "elapsed_s", "connections",
		"requests", "requests_per_s", "bytes_sent", "bytes_received", "latency", "errors", "ok", "exit_code"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, out.String())
		}
	}
	if m["schema"] != "wharf-bench/1" || m["command"] != "echo" {
		t.Errorf("schema %v command %v", m["schema"], m["command"])
	}
	lat := m["latency"].(map[string]any)
	for _, k := range []string{"count", "min_us", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"} {
		if _, ok := lat[k].(float64); !ok {
			t.Errorf("latency.%s missing or not a number: %v", k, lat)
		}
	}
	if !strings.Contains(errb.String(), "result      ok") {
		t.Errorf("with -json the text summary goes to stderr; got %q", errb.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no subcommand", nil},
		{"unknown subcommand", []string{"frob"}},
		{"bad flag", []string{"echo", "-nope"}},
		{"bad addr", []string{"echo", "-addr", "localhost"}},
		{"bad src", []string{"echo", "-src", "127.0.0.9-127.0.0.2"}},
		{"bad mix", []string{"packet", "-mix", "x"}},
		{"bad url", []string{"http", "-url", "ftp://example.invalid/"}},
		{"bad mode", []string{"kcp", "-mode", "turbo"}},
		{"bad procs", []string{"hold", "-procs", "0"}},
		{"zero conns", []string{"hold", "-c", "0"}},
		{"extra args", []string{"echo", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errb); code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, errb.String())
			}
			if errb.Len() == 0 {
				t.Error("no message on stderr")
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
