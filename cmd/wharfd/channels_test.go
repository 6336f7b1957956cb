//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wharf/client"
	"wharf/jwtauth"
)

const (
	testPushKey   = "push-key-for-the-tests-0123456789"
	testJWTSecret = "a secret of the backend, at least 32 bytes"
)

// subscriber is a packet client whose pushes are kept, and which knows
// its local port (to tell which worker serves it).
type subscriber struct {
	*client.Client
	port   int
	pushes chan [2]any // code, body
}

func dialSubscriber(t *testing.T, ctx context.Context, port int) *subscriber {
	t.Helper()
	s := &subscriber{pushes: make(chan [2]any, 256)}
	var d net.Dialer
	c, err := client.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port), client.Config{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				s.port = nc.LocalAddr().(*net.TCPAddr).Port
			}
			return nc, err
		},
		OnPush: func(code uint16, body []byte) { s.pushes <- [2]any{code, append([]byte(nil), body...)} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s.Client = c
	return s
}

// next returns the next push of code, skipping others.
func (s *subscriber) next(t *testing.T, code uint16) []byte {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case p := <-s.pushes:
			if p[0].(uint16) == code {
				return p[1].([]byte)
			}
		case <-timeout:
			t.Fatalf("no push of code %d within 20s", code)
		}
	}
}

// TestChannelsAcrossWorkers runs wharfd with two worker processes (so the
// channel history is the database's and messages cross workers on the
// relay): a JWT login on one worker and a password login on the other
// share a room; the push API on the admin listener publishes to the room
// and to the JWT user; a client that reconnects recovers what it missed,
// whichever worker it lands on; /metrics counts it all.
func TestChannelsAcrossWorkers(t *testing.T) {
	dir := t.TempDir()
	port, httpPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "wharf.toml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `pid_file = %q
drain_timeout = "2s"
processes = 2
[server]
listen = "127.0.0.1:%d"
stats_interval = "0s"
[http]
listen = "127.0.0.1:%d"
[admin]
listen = "127.0.0.1:%d"
[kcp]
listen = []
[jwt]
hmac_secret = %q
[push]
keys = [%q]
`, filepath.Join(dir, "wharfd.pid"), port, httpPort, adminPort, testJWTSecret, testPushKey), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := startWharfd(t, dir, "-c", cfg)
	workers := d.waitWorkers(2, 10*time.Second)
	d.waitLog("channel history in sql", 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := &http.Client{}
	defer hc.CloseIdleConnections()

	// Two connections on different workers.
	a := dialSubscriber(t, ctx, port)
	var b *subscriber
	for i := 0; b == nil; i++ {
		c := dialSubscriber(t, ctx, port)
		if ownerOf(t, workers, port, c.port) != ownerOf(t, workers, port, a.port) {
			b = c
		} else {
			c.Close()
		}
		if i == 50 {
			t.Fatal("50 connections all landed on one worker")
		}
	}

	// a is the backend's user "ext-7", by JWT; b is an account.
	tok, err := jwtauth.SignHMAC([]byte(testJWTSecret), jwtauth.Claims{Subject: "ext-7", Name: "Seven", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.LoginToken(ctx, tok); err != nil || s.User != "ext-7" || s.Name != "Seven" {
		t.Fatalf("JWT login = %+v, %v", s, err)
	}
	if _, err := b.Register(ctx, "bea", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Login(ctx, "bea", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Subscribe(ctx, "room:news", client.SubscribeOptions{Recover: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Publish(ctx, "room:news", json.RawMessage(`{"text":"from the other worker"}`)); err != nil {
		t.Fatal(err)
	}
	var p client.Publication
	client.DecodePush(a.next(t, client.CodePublication), &p)
	if p.Offset != 1 || !strings.Contains(string(p.Data), "from the other worker") {
		t.Fatalf("publication across workers: %+v", p)
	}

	push := func(path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, path), strings.NewReader(body))
		req.Header.Set("Authorization", "apikey "+testPushKey)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		m := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, r := push("/api/publish", `{"channel":"room:news","data":{"text":"from the backend"}}`); st != 200 || r["ok"] != true || r["offset"] != float64(2) {
		t.Fatalf("push publish: %d %v", st, r)
	}
	p = client.Publication{}
	client.DecodePush(a.next(t, client.CodePublication), &p)
	if p.Offset != 2 || p.From != "" {
		t.Fatalf("backend publication: %+v", p)
	}
	if st, r := push("/api/publish", `{"user":"ext-7","data":"just for you"}`); st != 200 || r["ok"] != true {
		t.Fatalf("push to a user: %d %v", st, r)
	}
	var dm client.Direct
	client.DecodePush(a.next(t, client.CodeDirect), &dm)
	if string(dm.Data) != `"just for you"` {
		t.Fatalf("direct %+v", dm)
	}
	// The push API is not on the public listener when there is an admin
	// one, and wants its key.
	for _, tt := range []struct {
		port, status int
	}{{httpPort, 404}, {adminPort, 401}} {
		resp, err := hc.Post(fmt.Sprintf("http://127.0.0.1:%d/api/publish", tt.port), "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Fatalf("push API without a key on port %d: %d, want %d", tt.port, resp.StatusCode, tt.status)
		}
	}

	// a drops; two publications later it comes back, on any worker, and
	// recovers them from the shared history.
	last := p
	a.Close()
	for i := 3; i <= 4; i++ {
		if _, _, err := b.Publish(ctx, "room:news", json.RawMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	again := dialSubscriber(t, ctx, port)
	if _, err := again.LoginToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	res, err := again.Subscribe(ctx, "room:news", client.SubscribeOptions{Recover: true, Offset: last.Offset, Epoch: last.Epoch})
	if err != nil || !res.Recovered || res.Offset != 4 {
		t.Fatalf("recovering subscribe = %+v, %v", res, err)
	}
	for i := uint64(3); i <= 4; i++ {
		client.DecodePush(again.next(t, client.CodePublication), &p)
		if p.Offset != i {
			t.Fatalf("recovered offset %d, want %d", p.Offset, i)
		}
	}

	// The workers report their stats to the master every second or so.
	wants := []string{"wharf_channels_subscriptions 1", `wharf_channels_recoveries_total{outcome="recovered"} 2` /* the first subscription, and the reconnection */, "wharf_push_publications_total 2",
		`wharf_chat_token_logins_total{kind="jwt"} 2`}
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		missing := 0
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks some of %q:\n%s", wants, grepLines(metrics, "wharf_channels", "wharf_push", "wharf_chat_token"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCheckChannels: wharfd -t refuses what only the channels package
// knows (a lobby name with a space) and names the JWT key file it cannot
// read; config refuses memory history with worker processes.
func TestCheckChannels(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ extra, want string }{
		{"[channels]\nlobby = \"room:a b\"", "channels.lobby"},
		{"[jwt]\npublic_key_file = \"/nonexistent/key.pem\"", "jwt.public_key_file"},
		{"processes = 2\n[channels]\nhistory = \"memory\"", `channels.history: "memory" keeps history in each worker process`},
	} {
		cfg := writeConfig(t, dir, freePort(t), "")
		data, _ := os.ReadFile(cfg)
		if strings.HasPrefix(tt.extra, "processes") {
			data = append([]byte(tt.extra[:strings.IndexByte(tt.extra, '\n')+1]), data...)
			data = append(data, tt.extra[strings.IndexByte(tt.extra, '\n')+1:]...)
		} else {
			data = append(data, tt.extra...)
		}
		os.WriteFile(cfg, data, 0o644)
		out, err := exec.Command(wharfdBin, "-t", "-c", cfg).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("-t with %q: %v %s, want an error about %s", tt.extra, err, out, tt.want)
		}
	}
}

// grepLines returns the lines of s that start with one of prefixes.
func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}
