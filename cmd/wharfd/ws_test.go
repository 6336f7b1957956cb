//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"wharf/client"
	"wharf/packet"
	"wharf/web"
	"wharf/websocket"
)

// TestPacketsOverWebSocket runs wharfd and speaks the packet protocol to it
// over ws://HOST/ws with the Go client: the same account works over TCP and
// WebSocket, a message said on one transport is pushed on the other, and
// /api/stats counts the WebSocket connection as transport "ws". A
// handshake without the subprotocol is refused.
func TestPacketsOverWebSocket(t *testing.T) {
	dir := t.TempDir()
	port, httpPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "wharf.toml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `pid_file = %q
[server]
listen = "127.0.0.1:%d"
stats_interval = "0s"
[http]
listen = "127.0.0.1:%d"
[admin]
listen = "127.0.0.1:%d"
[kcp]
listen = []
`, filepath.Join(dir, "wharfd.pid"), port, httpPort, adminPort), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	startWharfd(t, dir, "-c", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pushes := make(chan []byte, 16)
	wsURL := fmt.Sprintf("ws://127.0.0.1:%d/ws", httpPort)
	wsc, err := client.Dial(ctx, wsURL, client.Config{
		Dialer:    websocket.StreamDialer(websocket.DialOptions{Subprotocols: []string{packet.WebSocketSubprotocol}}),
		PushCodes: []uint16{8},
		OnPush:    func(_ uint16, body []byte) { pushes <- append([]byte(nil), body...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer wsc.Close()
	tcp, err := client.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port), client.Config{PushCodes: []uint16{8}})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()

	call := func(c *client.Client, code uint16, body string) map[string]any {
		t.Helper()
		reply, err := c.Request(ctx, code, []byte(body))
		if err != nil {
			t.Fatalf("code %d: %v", code, err)
		}
		m := map[string]any{}
		json.Unmarshal(reply, &m)
		return m
	}
	if r := call(wsc, 5, `{"username":"wendy","password":"over websocket"}`); r["ok"] != true {
		t.Fatalf("register over WebSocket: %v", r)
	}
	if r := call(tcp, 6, `{"username":"wendy","password":"over websocket"}`); r["ok"] != true {
		t.Fatalf("the same account over TCP: %v", r)
	}
	if r := call(wsc, 6, `{"username":"wendy","password":"over websocket"}`); r["ok"] != true {
		t.Fatalf("login over WebSocket: %v", r)
	}
	if r := call(tcp, 7, `{"text":"from tcp to websocket"}`); r["ok"] != true {
		t.Fatalf("say over TCP: %v", r)
	}
	select {
	case p := <-pushes:
		var m struct{ From, Text string }
		json.Unmarshal(p, &m)
		if m.From != "wendy" || m.Text != "from tcp to websocket" {
			t.Fatalf("push over WebSocket: %s", p)
		}
	case <-ctx.Done():
		t.Fatal("the message said over TCP never reached the WebSocket connection")
	}

	var st web.Stats
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/stats", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if ws := st.Server.Transports["ws"]; ws.Open != 1 || ws.Accepted != 1 || ws.Reads < 2 {
		t.Fatalf("transports.ws = %+v, want the one WebSocket connection and its requests", ws)
	}

	_, err = websocket.Dial(ctx, wsURL, nil) // no subprotocol
	if err == nil {
		t.Fatal("a handshake without wharf.packet.v1 was accepted")
	}
}
