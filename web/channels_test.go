package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"wharf/chat"
)

// TestChannelsAPI: the page's channel requests act for the session's
// user, on the stream named by its hello, with the packet protocol's
// bodies and an HTTP status per reason.
func TestChannelsAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob := e.browser(), e.browser()
	alice.login("alice", "correct horse")
	bob.login("bob", "battery staple")
	ev := alice.events()
	stream := decodeEvent(t, mustNext(t, ev, "hello"))["stream"].(string)

	st, r := alice.call("POST", "/api/channels/subscribe", map[string]any{"stream": stream, "channel": "room:web", "join_leave": true})
	if st != 200 || r["ok"] != true || r["channel"] != "room:web" {
		t.Fatalf("subscribe: %d %v", st, r)
	}
	if j := decodeEvent(t, mustNext(t, ev, "join")); j["channel"] != "room:web" {
		t.Fatalf("join = %v", j)
	}
	// Another session cannot use alice's stream.
	if st, r := bob.call("POST", "/api/channels/subscribe", map[string]any{"stream": stream, "channel": "room:web"}); st != 404 || r["reason"] != "no_stream" {
		t.Fatalf("bob on alice's stream: %d %v", st, r)
	}
	st, r = bob.call("POST", "/api/channels/publish", chat.PublishRequest{Channel: "room:web", Data: json.RawMessage(`{"text": "hi\nthere"}`)})
	if st != 200 || r["ok"] != true || r["offset"] != float64(1) || r["delivered"] != float64(1) {
		t.Fatalf("publish: %d %v", st, r)
	}
	p := decodeEvent(t, mustNext(t, ev, "publication"))
	if p["offset"] != float64(1) || p["data"].(map[string]any)["text"] != "hi\nthere" {
		t.Fatalf("publication = %v", p)
	}
	st, r = alice.call("POST", "/api/channels/presence", chat.ChannelRequest{Channel: "room:web"})
	if st != 200 || len(r["members"].([]any)) != 1 {
		t.Fatalf("presence: %d %v", st, r)
	}
	st, r = alice.call("POST", "/api/channels/history", chat.HistoryRequest{Channel: "room:web", Limit: 5})
	if st != 200 || len(r["publications"].([]any)) != 1 {
		t.Fatalf("history: %d %v", st, r)
	}
	// A direct message reaches every stream of the user.
	_, me := alice.call("GET", "/api/me", nil)
	aliceID := fmt.Sprint(me["user_id"])
	if st, r := bob.call("POST", "/api/channels/direct", chat.DirectRequest{User: aliceID, Data: json.RawMessage(`"psst"`)}); st != 200 || r["ok"] != true {
		t.Fatalf("direct: %d %v", st, r)
	}
	if d := decodeEvent(t, mustNext(t, ev, "direct")); d["data"] != "psst" {
		t.Fatalf("direct = %v", d)
	}
	st, r = alice.call("POST", "/api/channels/unsubscribe", map[string]any{"stream": stream, "channel": "room:web"})
	if st != 200 || r["ok"] != true {
		t.Fatalf("unsubscribe: %d %v", st, r)
	}

	tests := []struct {
		name   string
		b      *browser
		path   string
		body   any
		status int
		reason string
	}{
		{"not subscribed", alice, "/api/channels/unsubscribe", map[string]any{"stream": stream, "channel": "room:web"}, 409, "not_subscribed"},
		{"bad name", alice, "/api/channels/publish", chat.PublishRequest{Channel: "a b", Data: json.RawMessage(`1`)}, 400, "invalid_name"},
		{"unknown namespace", alice, "/api/channels/publish", chat.PublishRequest{Channel: "nope:a", Data: json.RawMessage(`1`)}, 404, "unknown_namespace"},
		{"another's channel", bob, "/api/channels/history", chat.HistoryRequest{Channel: "user:" + aliceID}, 403, "permission_denied"},
		{"anonymous publish", e.browser(), "/api/channels/publish", chat.PublishRequest{Channel: "room:web", Data: json.RawMessage(`1`)}, 403, "permission_denied"},
		{"too large", bob, "/api/channels/publish", chat.PublishRequest{Channel: "room:web", Data: json.RawMessage(`"` + strings.Repeat("x", 9000) + `"`)}, 413, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.b.t = t
			if st, r := tt.b.call("POST", tt.path, tt.body); st != tt.status || r["ok"] != false || r["reason"] != tt.reason {
				t.Fatalf("%d %v, want %d %s", st, r, tt.status, tt.reason)
			}
		})
	}
	if st, _ := e.browser().call("GET", "/api/names?ids=1", nil); st != 401 {
		t.Fatalf("names without a login: %d", st)
	}
}

// TestChannelsRecoveryOnReconnect: a page that reconnects its stream
// resubscribes with its last position and gets what it missed, down the
// new stream.
func TestChannelsRecoveryOnReconnect(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob := e.browser(), e.browser()
	alice.login("alice", "correct horse")
	bob.login("bob", "battery staple")
	publish := func(i int) {
		t.Helper()
		if st, r := bob.call("POST", "/api/channels/publish", chat.PublishRequest{Channel: "room:rec", Data: json.RawMessage(fmt.Sprint(i))}); st != 200 {
			t.Fatalf("publish: %d %v", st, r)
		}
	}
	ev := alice.events()
	stream := decodeEvent(t, mustNext(t, ev, "hello"))["stream"].(string)
	alice.call("POST", "/api/channels/subscribe", map[string]any{"stream": stream, "channel": "room:rec"})
	publish(1)
	last := decodeEvent(t, mustNext(t, ev, "publication"))
	ev.close()
	publish(2)
	publish(3)
	ev = alice.events()
	stream = decodeEvent(t, mustNext(t, ev, "hello"))["stream"].(string)
	st, r := alice.call("POST", "/api/channels/subscribe", map[string]any{"stream": stream, "channel": "room:rec",
		"recover": true, "offset": last["offset"], "epoch": last["epoch"]})
	if st != 200 || r["recovered"] != true || r["offset"] != float64(3) {
		t.Fatalf("recovering subscribe: %d %v", st, r)
	}
	for i := 2; i <= 3; i++ {
		if p := decodeEvent(t, mustNext(t, ev, "publication")); p["offset"] != float64(i) {
			t.Fatalf("recovered %v, want offset %d", p, i)
		}
	}
}

// TestChannelsPublishRateLimit: the page's publications are limited like
// the packet protocol's: 429 with Retry-After.
func TestChannelsPublishRateLimit(t *testing.T) {
	e := newEnv(t, envOptions{chat: chat.Config{PublishBurst: 2, PublishRate: 0.001}})
	b := e.browser()
	b.login("alice", "correct horse")
	body := chat.PublishRequest{Channel: "room:x", Data: json.RawMessage(`1`)}
	for range 2 {
		if st, r := b.call("POST", "/api/channels/publish", body); st != 200 {
			t.Fatalf("publish: %d %v", st, r)
		}
	}
	resp := b.do("POST", "/api/channels/publish", body, nil)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
