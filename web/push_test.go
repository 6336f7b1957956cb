package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"wharf/chat"
)

const testKey = "0123456789abcdef-test-key"

// pushEnv is a web app serving the push API on its admin face, with one
// logged-in viewer subscribed to room:news and to its own user channel.
type pushEnv struct {
	*env
	api    *PushAPI
	viewer *browser
	ev     *sse
	userID string
}

func newPushEnv(t *testing.T, cfg PushConfig) *pushEnv { return newPushEnvOn(t, cfg, false) }

// newPushEnvOn is newPushEnv, serving the push API on the public face too
// with public.
func newPushEnvOn(t *testing.T, cfg PushConfig, public bool) *pushEnv {
	t.Helper()
	var api *PushAPI
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.PushOnPublic = public
		cfg.App, cfg.Keys = c.App, []string{testKey, "another-key-of-16-bytes"}
		var err error
		if api, err = NewPushAPI(cfg); err != nil {
			t.Fatal(err)
		}
		c.Push = api
		c.Stats = func(context.Context) (Stats, error) {
			ps := api.Stats()
			return Stats{Workers: 1, Push: &ps}, nil
		}
	}})
	v := e.browser()
	v.login("alice", "correct horse")
	ev := v.events()
	stream := decodeEvent(t, mustNext(t, ev, "hello"))["stream"].(string)
	_, me := v.call("GET", "/api/me", nil)
	id := jsonNumber(me["user_id"])
	for _, ch := range []string{"room:news", "user:" + id} {
		if st, r := v.call("POST", "/api/channels/subscribe", map[string]any{"stream": stream, "channel": ch}); st != 200 {
			t.Fatalf("subscribe %s: %d %v", ch, st, r)
		}
	}
	return &pushEnv{env: e, api: api, viewer: v, ev: ev, userID: id}
}

func jsonNumber(v any) string { b, _ := json.Marshal(v); return string(b) }

// push sends a push API request to the admin face.
func (p *pushEnv) push(t *testing.T, path, auth, body string) (*http.Response, map[string]any) {
	t.Helper()
	return p.pushTo(t, p.admin, path, auth, body)
}

func (p *pushEnv) pushTo(t *testing.T, srv *httptest.Server, path, auth, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := map[string]any{}
	json.Unmarshal(raw, &m)
	return resp, m
}

// TestPushAPI: publish to a channel, to a user, and broadcast, with the
// answers counting the connections reached here.
func TestPushAPI(t *testing.T) {
	p := newPushEnv(t, PushConfig{})
	resp, r := p.push(t, "/api/publish", "apikey "+testKey, `{"channel":"room:news","data":{"headline":"wharf ships"}}`)
	if resp.StatusCode != 200 || r["ok"] != true || r["delivered"] != float64(1) || r["offset"] != float64(1) {
		t.Fatalf("publish: %d %v", resp.StatusCode, r)
	}
	if m := decodeEvent(t, mustNext(t, p.ev, "publication")); m["from"] != nil || m["data"].(map[string]any)["headline"] != "wharf ships" {
		t.Fatalf("publication = %v", m)
	}
	resp, r = p.push(t, "/api/publish", "Bearer "+testKey, `{"user":"`+p.userID+`","data":"to you"}`)
	if resp.StatusCode != 200 || r["delivered"] != float64(1) || r["user"] != p.userID {
		t.Fatalf("to a user: %d %v", resp.StatusCode, r)
	}
	if m := decodeEvent(t, mustNext(t, p.ev, "direct")); m["data"] != "to you" {
		t.Fatalf("direct = %v", m)
	}
	resp, r = p.push(t, "/api/broadcast", "apikey "+testKey, `{"channels":["room:news","user:`+p.userID+`","room:empty","bad name"],"data":{"n":1}}`)
	results, _ := r["results"].([]any)
	if resp.StatusCode != 200 || r["ok"] != false || r["delivered"] != float64(2) || len(results) != 4 ||
		results[2].(map[string]any)["delivered"] != float64(0) || results[3].(map[string]any)["reason"] != "invalid_name" {
		t.Fatalf("broadcast: %d %v", resp.StatusCode, r)
	}
	for range 2 {
		mustNext(t, p.ev, "publication")
	}
	st := p.api.Stats()
	if st.Requests != 3 || st.Publications != 5 || st.Deliveries != 4 {
		t.Fatalf("stats %+v", st)
	}
	// Backend publications go through no namespace rule: user:<id> is
	// server-only for clients.
	if st, r := p.viewer.call("POST", "/api/channels/publish", chat.PublishRequest{Channel: "user:" + p.userID, Data: json.RawMessage(`1`)}); st != 403 {
		t.Fatalf("a client publishing to its own channel: %d %v", st, r)
	}
}

// TestPushAPIRefusals: keys, methods, bodies, sizes and rates, each
// answered with its status and counted.
func TestPushAPIRefusals(t *testing.T) {
	p := newPushEnv(t, PushConfig{MaxBody: 1024, Rate: 0.001, Burst: 5, MaxChannels: 3})
	key := "apikey " + testKey
	tests := []struct {
		name, path, auth, body string
		status                 int
	}{
		{"no key", "/api/publish", "", `{"channel":"room:news","data":1}`, 401},
		{"wrong key", "/api/publish", "apikey nope-nope-nope-nope", `{"channel":"room:news","data":1}`, 401},
		{"wrong scheme", "/api/publish", "Basic " + testKey, `{"channel":"room:news","data":1}`, 401},
		{"body too large", "/api/publish", key, `{"channel":"room:news","data":"` + strings.Repeat("x", 2000) + `"}`, 413},
		{"no data", "/api/publish", key, `{"channel":"room:news"}`, 400},
		{"channel and user", "/api/publish", key, `{"channel":"room:news","user":"1","data":1}`, 400},
		{"unknown namespace", "/api/publish", key, `{"channel":"nope:x","data":1}`, 404},
		{"too many channels", "/api/broadcast", key, `{"channels":["a","b","c","d"],"data":1}`, 413},
		{"malformed", "/api/publish", key, `{"channel":`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, r := p.push(t, tt.path, tt.auth, tt.body)
			if resp.StatusCode != tt.status || r["ok"] != false || r["error"] == "" {
				t.Fatalf("%d %v, want %d", resp.StatusCode, r, tt.status)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	// Of the burst of five, the unknown namespace spent one (the other
	// refusals come before the rate limit): spend the rest.
	var last *http.Response
	for range 10 {
		if last, _ = p.push(t, "/api/publish", key, `{"channel":"room:news","data":1}`); last.StatusCode == 429 {
			break
		}
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("over the rate: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	st := p.api.Stats()
	if st.Unauthorized != 3 || st.TooLarge != 2 || st.RateLimited != 1 || st.Failed != 4 {
		t.Fatalf("stats %+v", st)
	}
	// The refusals are in /metrics too.
	mfs := scrape(t, p.env)
	for reason, want := range map[string]float64{"unauthorized": 3, "too_large": 2, "rate_limited": 1, "failed": 4} {
		if v, _ := value(mfs, "wharf_push_refused_total", map[string]string{"reason": reason}); v != want {
			t.Errorf("wharf_push_refused_total{reason=%q} = %v, want %v", reason, v, want)
		}
	}
}

// TestPushAPIOnThePublicFace: the push API is on the public face only with
// PushOnPublic (wharfd without an admin listener), key required.
func TestPushAPIOnThePublicFace(t *testing.T) {
	body := `{"channel":"room:news","data":1}`
	p := newPushEnv(t, PushConfig{})
	if resp, _ := p.pushTo(t, p.srv, "/api/publish", "apikey "+testKey, body); resp.StatusCode != 404 {
		t.Fatalf("public face without PushOnPublic: %d", resp.StatusCode)
	}
	p = newPushEnvOn(t, PushConfig{}, true)
	if resp, r := p.pushTo(t, p.srv, "/api/publish", "apikey "+testKey, body); resp.StatusCode != 200 || r["delivered"] != float64(1) {
		t.Fatalf("public face with PushOnPublic: %d %v", resp.StatusCode, r)
	}
	if resp, _ := p.pushTo(t, p.srv, "/api/publish", "", body); resp.StatusCode != 401 {
		t.Fatalf("public face without a key: %d", resp.StatusCode)
	}
}

// TestPushAPIStandalone: the PushAPI is an http.Handler of its own (the
// admin listener's), answering 404 and 405 itself.
func TestPushAPIStandalone(t *testing.T) {
	e := newEnv(t, envOptions{})
	api, err := NewPushAPI(PushConfig{App: e.app, Keys: []string{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/publish", 405},
		{"POST", "/api/other", 404},
		{"POST", "/api/publish", 200},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"channel":"room:x","data":1}`))
		req.Header.Set("Authorization", "apikey "+testKey)
		api.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s %s: %d, want %d (%s)", tt.method, tt.path, rec.Code, tt.status, rec.Body)
		}
	}
	for _, bad := range []PushConfig{
		{Keys: []string{testKey}},
		{App: e.app},
		{App: e.app, Keys: []string{"short"}},
		{App: e.app, Keys: []string{testKey}, MaxChannels: 10, Burst: 5},
	} {
		if _, err := NewPushAPI(bad); err == nil {
			t.Errorf("NewPushAPI(%+v) accepted", bad)
		}
	}
}
