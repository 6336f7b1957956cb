package web

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"wharf/accounts"
	"wharf/chat"
	"wharf/server"
)

// TestAPIRoundTrip walks one user through the JSON API; the steps share a
// cookie jar, as a browser would.
func TestAPIRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	steps := []struct {
		name       string
		method     string
		path       string
		body       any // string: raw; nil: none
		wantStatus int
		want       map[string]any // fields the reply must have
		wantErr    string         // substring of "error"
	}{
		{name: "me before login", method: "GET", path: "/api/me", wantStatus: 401, wantErr: "not logged in"},
		{name: "register", method: "POST", path: "/api/register", body: credentials{"alice", "correct horse"},
			wantStatus: 200, want: map[string]any{"ok": true, "user_id": 1.0}},
		{name: "register duplicate", method: "POST", path: "/api/register", body: credentials{"Alice", "another pass"},
			wantStatus: 409, wantErr: "username already taken"},
		{name: "register short name", method: "POST", path: "/api/register", body: credentials{"al", "correct horse"},
			wantStatus: 400, wantErr: "invalid username: "},
		{name: "register bad character", method: "POST", path: "/api/register", body: credentials{"al ice", "correct horse"},
			wantStatus: 400, wantErr: "invalid username: "},
		{name: "register short password", method: "POST", path: "/api/register", body: credentials{"bob", "short"},
			wantStatus: 400, wantErr: "invalid password: "},
		{name: "empty body", method: "POST", path: "/api/register", body: "", wantStatus: 400, wantErr: "request body is empty"},
		{name: "truncated JSON", method: "POST", path: "/api/register", body: `{"username":"bob"`, wantStatus: 400, wantErr: "malformed JSON"},
		{name: "syntax error", method: "POST", path: "/api/register", body: `{"username" "bob"}`, wantStatus: 400, wantErr: "syntax error at byte"},
		{name: "not an object", method: "POST", path: "/api/register", body: `[1,2]`, wantStatus: 400, wantErr: "must be a JSON object"},
		{name: "wrong type", method: "POST", path: "/api/register", body: `{"username":5,"password":"x"}`, wantStatus: 400, wantErr: `field "username" must be a string`},
		{name: "trailing data", method: "POST", path: "/api/register", body: `{"username":"bob","password":"long enough"} {}`, wantStatus: 400, wantErr: "data after the object"},
		{name: "login wrong password", method: "POST", path: "/api/login", body: credentials{"alice", "wrong horse"},
			wantStatus: 401, wantErr: "invalid username or password"},
		{name: "login unknown user", method: "POST", path: "/api/login", body: credentials{"nobody", "wrong horse"},
			wantStatus: 401, wantErr: "invalid username or password"},
		{name: "login", method: "POST", path: "/api/login", body: credentials{"ALICE", "correct horse"},
			wantStatus: 200, want: map[string]any{"ok": true, "user_id": 1.0, "username": "alice"}},
		{name: "me", method: "GET", path: "/api/me", wantStatus: 200, want: map[string]any{"user_id": 1.0, "username": "alice"}},
		{name: "say", method: "POST", path: "/api/say", body: sayRequest{"hello from the web"}, wantStatus: 200, want: map[string]any{"ok": true}},
		{name: "say blank", method: "POST", path: "/api/say", body: sayRequest{"   "}, wantStatus: 400, wantErr: "empty message"},
		{name: "say control character", method: "POST", path: "/api/say", body: sayRequest{"bell\a"}, wantStatus: 400, wantErr: "printable"},
		{name: "say too long", method: "POST", path: "/api/say", body: sayRequest{strings.Repeat("x", 1001)}, wantStatus: 400, wantErr: "too long"},
		{name: "logout", method: "POST", path: "/api/logout", wantStatus: 200, want: map[string]any{"ok": true}},
		{name: "me after logout", method: "GET", path: "/api/me", wantStatus: 401, wantErr: "not logged in"},
		{name: "say after logout", method: "POST", path: "/api/say", body: sayRequest{"hi"}, wantStatus: 401, wantErr: "not logged in"},
		{name: "messages after logout", method: "GET", path: "/api/messages", wantStatus: 401, wantErr: "not logged in"},
		{name: "logout again", method: "POST", path: "/api/logout", wantStatus: 200, want: map[string]any{"ok": true}},
	}
	for _, s := range steps {
		st, m := b.call(s.method, s.path, s.body)
		if st != s.wantStatus {
			t.Fatalf("%s: status %d, want %d (%v)", s.name, st, s.wantStatus, m)
		}
		for k, v := range s.want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v (reply %v)", s.name, k, m[k], v, m)
			}
		}
		if s.wantErr != "" {
			msg, _ := m["error"].(string)
			if m["ok"] != false || !strings.Contains(msg, s.wantErr) {
				t.Errorf("%s: reply %v, want ok:false and an error containing %q", s.name, m, s.wantErr)
			}
			if strings.HasPrefix(msg, "web:") || strings.HasPrefix(msg, "accounts:") || strings.HasPrefix(msg, "chat:") {
				t.Errorf("%s: error %q shows a package prefix to the user", s.name, msg)
			}
		}
		if s.name == "say" {
			// History needs the login; check it while logged in.
			st, m := b.call("GET", "/api/messages", nil)
			msgs, _ := m["messages"].([]any)
			if st != 200 || len(msgs) != 1 {
				t.Fatalf("messages: %d %v", st, m)
			}
			msg := msgs[0].(map[string]any)
			if msg["from"] != "alice" || msg["text"] != "hello from the web" || msg["ts"].(float64) <= 0 {
				t.Errorf("message = %v", msg)
			}
		}
	}
}

// TestSessionCookie checks the attributes of the session cookie and that
// logout really ends the session on the server, not just in the browser.
func TestSessionCookie(t *testing.T) {
	ttl := 90 * time.Minute
	e := newEnv(t, envOptions{accounts: accounts.Config{SessionTTL: ttl}})
	b := e.browser()
	if st, _ := b.call("POST", "/api/register", credentials{"carol", "correct horse"}); st != 200 {
		t.Fatal(st)
	}
	resp := b.do("POST", "/api/login", credentials{"carol", "correct horse"}, nil)
	resp.Body.Close()
	c := cookie(resp, SessionCookie)
	if c == nil {
		t.Fatalf("login set no %s cookie: %v", SessionCookie, resp.Header["Set-Cookie"])
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie %q: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", resp.Header.Get("Set-Cookie"))
	}
	if c.MaxAge != int(ttl/time.Second) {
		t.Errorf("cookie Max-Age %d, want the session TTL %d", c.MaxAge, int(ttl/time.Second))
	}
	if until := time.Until(c.Expires); until < ttl-time.Minute || until > ttl+time.Minute {
		t.Errorf("cookie expires in %v, want about %v", until, ttl)
	}
	token := c.Value
	if _, err := e.acc.Authenticate(context.Background(), token); err != nil {
		t.Fatalf("the cookie is not a valid session token: %v", err)
	}

	resp = b.do("POST", "/api/logout", nil, nil)
	resp.Body.Close()
	c = cookie(resp, SessionCookie)
	if c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("logout did not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
	if _, err := e.acc.Authenticate(context.Background(), token); !errors.Is(err, accounts.ErrInvalidToken) {
		t.Fatalf("after logout the old token still authenticates: %v", err)
	}
	// A client that kept the old cookie gets nowhere, and is told to drop it.
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: token})
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("old token: status %d", rec.Code)
	}
	if c := cookie(&http.Response{Header: rec.Header()}, SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Errorf("old token: cookie not cleared: %v", rec.Header()["Set-Cookie"])
	}
}

// TestSecureCookie: the Secure attribute follows the scheme the browser
// used, believing X-Forwarded-Proto only from trusted proxies.
func TestSecureCookie(t *testing.T) {
	tests := []struct {
		name       string
		remote     string
		tls        bool
		proto      string
		wantSecure bool
	}{
		{name: "plain http", remote: "192.0.2.1:1234"},
		{name: "tls", remote: "192.0.2.1:1234", tls: true, wantSecure: true},
		{name: "trusted proxy says https", remote: "10.0.0.5:1234", proto: "https", wantSecure: true},
		{name: "trusted proxy says http", remote: "10.0.0.5:1234", proto: "http"},
		{name: "nearest trusted proxy wins", remote: "10.0.0.5:1234", proto: "http, https", wantSecure: true},
		{name: "untrusted peer says https", remote: "192.0.2.1:1234", proto: "https"},
	}
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}})
	if _, err := e.acc.Register(context.Background(), "dave", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"username":"dave","password":"correct horse"}`))
			req.RemoteAddr = tt.remote
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			c := cookie(&http.Response{Header: rec.Header()}, SessionCookie)
			if rec.Code != 200 || c == nil {
				t.Fatalf("login: %d %s", rec.Code, rec.Body)
			}
			if c.Secure != tt.wantSecure {
				t.Errorf("Secure = %v, want %v", c.Secure, tt.wantSecure)
			}
			if hsts := rec.Header().Get("Strict-Transport-Security") != ""; hsts != tt.wantSecure {
				t.Errorf("HSTS sent = %v, want %v", hsts, tt.wantSecure)
			}
		})
	}
}

// TestSessionOverTLS runs a whole login over a real TLS listener.
func TestSessionOverTLS(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	b := e.browser()
	b.call("POST", "/api/register", credentials{"erin", "correct horse"})
	resp := b.do("POST", "/api/login", credentials{"erin", "correct horse"}, nil)
	resp.Body.Close()
	if c := cookie(resp, SessionCookie); c == nil || !c.Secure {
		t.Fatalf("cookie over TLS: %v", resp.Header["Set-Cookie"])
	}
	if st, m := b.call("GET", "/api/me", nil); st != 200 || m["username"] != "erin" {
		t.Fatalf("me over TLS: %d %v", st, m)
	}
}

// TestLoginReplacesSession: logging in again ends the browser's previous
// session instead of leaving it alive.
func TestLoginReplacesSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.login("frank", "correct horse")
	old := b.jar.Cookies(mustURL(t, b.base))[0].Value
	if st, _ := b.call("POST", "/api/login", credentials{"frank", "correct horse"}); st != 200 {
		t.Fatal(st)
	}
	if _, err := e.acc.Authenticate(context.Background(), old); !errors.Is(err, accounts.ErrInvalidToken) {
		t.Fatalf("the previous session survived a new login: %v", err)
	}
	if st, _ := b.call("GET", "/api/me", nil); st != 200 {
		t.Fatalf("new session: %d", st)
	}
}

// TestErrorPaths: wrong methods, unknown paths and oversized bodies.
func TestErrorPaths(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	big := `{"username":"` + strings.Repeat("a", 70<<10) + `","password":"x"}`
	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
		wantAllow          string
		wantJSON           bool
		wantErr            string
	}{
		{name: "GET on a POST route", method: "GET", path: "/api/login", wantStatus: 405, wantAllow: "POST", wantJSON: true, wantErr: "not allowed"},
		{name: "DELETE on a GET route", method: "DELETE", path: "/api/me", wantStatus: 405, wantAllow: "GET, HEAD", wantJSON: true},
		{name: "POST on events", method: "POST", path: "/api/events", wantStatus: 405, wantAllow: "GET", wantJSON: true},
		{name: "PUT on the page", method: "PUT", path: "/", wantStatus: 405, wantAllow: "GET, HEAD"},
		{name: "GET on a form route", method: "GET", path: "/login", wantStatus: 405, wantAllow: "POST"},
		{name: "POST on a static file", method: "POST", path: "/static/app.js", wantStatus: 405, wantAllow: "GET, HEAD"},
		{name: "unknown API path", method: "GET", path: "/api/nope", wantStatus: 404, wantJSON: true, wantErr: "no such endpoint"},
		{name: "API path with a trailing slash", method: "GET", path: "/api/me/", wantStatus: 404, wantJSON: true},
		{name: "unknown page", method: "GET", path: "/nope", wantStatus: 404},
		{name: "unknown static file", method: "GET", path: "/static/nope.js", wantStatus: 404},
		{name: "oversized JSON", method: "POST", path: "/api/register", body: big, wantStatus: 413, wantJSON: true, wantErr: "too large"},
		{name: "oversized JSON after the object", method: "POST", path: "/api/login",
			body: `{"username":"a","password":"b"}` + strings.Repeat(" ", 70<<10), wantStatus: 413, wantJSON: true, wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := b.do(tt.method, tt.path, tt.body, nil)
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
			if tt.wantJSON {
				m := decodeReply(t, resp)
				if m["ok"] != false || !strings.Contains(m["error"].(string), tt.wantErr) {
					t.Errorf("reply %v, want an error containing %q", m, tt.wantErr)
				}
			}
		})
	}
	t.Run("oversized form", func(t *testing.T) {
		resp := b.form("/register", map[string]string{"username": strings.Repeat("a", 70<<10), "password": "x"}, nil)
		if resp.StatusCode != 413 {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
}

// TestCSRF: state-changing requests from another site are refused;
// same-origin browsers and non-browser clients get through.
func TestCSRF(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) { c.TrustedOrigins = []string{"https://app.example.com"} }})
	b := e.browser()
	tests := []struct {
		name       string
		path       string
		form       bool
		hdr        map[string]string
		wantStatus int
	}{
		{name: "cross-site API post", path: "/api/register", hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantStatus: 403},
		{name: "same-site API post", path: "/api/register", hdr: map[string]string{"Sec-Fetch-Site": "same-site"}, wantStatus: 403},
		{name: "foreign Origin, old browser", path: "/api/register", hdr: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403},
		{name: "cross-site login form", path: "/login", form: true, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantStatus: 403},
		{name: "cross-site logout form", path: "/logout", form: true, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantStatus: 403},
		{name: "same-origin API post", path: "/api/register", hdr: map[string]string{"Sec-Fetch-Site": "same-origin"}, wantStatus: 200},
		{name: "typed by the user", path: "/api/register", hdr: map[string]string{"Sec-Fetch-Site": "none"}, wantStatus: 200},
		{name: "same Origin, old browser", path: "/api/register", hdr: map[string]string{"Origin": e.srv.URL}, wantStatus: 200},
		{name: "trusted origin", path: "/api/register", hdr: map[string]string{"Origin": "https://app.example.com", "Sec-Fetch-Site": "cross-site"}, wantStatus: 200},
		{name: "non-browser client", path: "/api/register", wantStatus: 200},
		{name: "same-origin form", path: "/login", form: true, hdr: map[string]string{"Sec-Fetch-Site": "same-origin"}, wantStatus: 303},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "csrf" + string(rune('a'+i))
			var resp *http.Response
			if tt.form {
				resp = b.form(tt.path, map[string]string{"username": user, "password": "correct horse"}, tt.hdr)
			} else {
				resp = b.do("POST", tt.path, credentials{user, "correct horse"}, tt.hdr)
				resp.Body.Close()
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			_, _, err := e.store.UserByName(context.Background(), user)
			if created := err == nil; created != (tt.wantStatus == 200) {
				t.Errorf("user created = %v (%v) with status %d", created, err, resp.StatusCode)
			}
		})
	}
	t.Run("cross-site GET is allowed", func(t *testing.T) {
		resp := b.do("GET", "/api/messages", nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
		resp.Body.Close()
		if resp.StatusCode != 401 { // reaches the handler: not logged in
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// TestThrottle: repeated failed logins are refused with 429 and
// Retry-After; the client is told apart by its address, from behind a
// trusted proxy too.
func TestThrottle(t *testing.T) {
	e := newEnv(t, envOptions{
		chat: chat.Config{FailuresPerIP: 3, FailuresPerUser: 100},
		web: func(c *Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		},
	})
	if _, err := e.acc.Register(context.Background(), "grace", "correct horse"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	attempt := func(xff, pass string) *http.Response {
		resp := b.do("POST", "/api/login", credentials{"grace", pass}, map[string]string{"X-Forwarded-For": xff})
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := range 3 {
		if resp := attempt("203.0.113.7", "wrong horse"); resp.StatusCode != 401 {
			t.Fatalf("failure %d: status %d", i+1, resp.StatusCode)
		}
	}
	resp := attempt("203.0.113.7", "correct horse")
	if resp.StatusCode != 429 {
		t.Fatalf("after 3 failures: status %d, want 429", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if m := decodeReply(t, resp); !strings.Contains(m["error"].(string), "rate limited (failed logins per address)") {
		t.Errorf("429 reply %v", m)
	}
	// Another client behind the same proxy is not punished.
	if resp := attempt("203.0.113.8", "correct horse"); resp.StatusCode != 200 {
		t.Fatalf("other client: status %d, want 200", resp.StatusCode)
	}
	// Nor is the throttled one helped by prepending a fake hop.
	if resp := attempt("198.51.100.1, 203.0.113.7", "correct horse"); resp.StatusCode != 429 {
		t.Fatalf("spoofed hop: status %d, want 429", resp.StatusCode)
	}
}

// TestStatsEndpoint: /api/stats passes Config.Stats through as JSON.
func TestStatsEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		stats      func(context.Context) (Stats, error)
		wantStatus int
		want       map[string]any // top-level keys
		wantServer map[string]any // keys of "server"
	}{
		{name: "no stats", wantStatus: 404},
		{name: "stats", stats: func(context.Context) (Stats, error) {
			st := Stats{Workers: 2, Server: server.Stats{Online: 7}}
			st.Server.Kicks[server.KickIdle] = 2
			return st, nil
		}, wantStatus: 200, want: map[string]any{"workers": 2.0},
			wantServer: map[string]any{"online": 7.0, "kicks": map[string]any{"idle": 2.0, "flood": 0.0, "slow_reader": 0.0, "framing": 0.0, "bad_crc": 0.0, "limit": 0.0, "source_limit": 0.0}}},
		{name: "failing stats", stats: func(context.Context) (Stats, error) {
			return Stats{}, errors.New("worker 3 does not answer")
		}, wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{web: func(c *Config) { c.Stats = tt.stats }})
			st, m := e.operator().call("GET", "/api/stats", nil)
			if st != tt.wantStatus {
				t.Fatalf("status %d, want %d (%v)", st, tt.wantStatus, m)
			}
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			srv, _ := m["server"].(map[string]any)
			for k, v := range tt.wantServer {
				if !reflect.DeepEqual(srv[k], v) {
					t.Errorf("server.%s = %v, want %v", k, srv[k], v)
				}
			}
			if st != 200 && m["ok"] != false {
				t.Errorf("refusal %v", m)
			}
		})
	}
}

// TestHealthz: 200 while the database answers, 503 when it does not.
func TestHealthz(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	if st, body := b.get("/healthz"); st != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", st, body)
	}
	e.store.Close()
	if st, body := b.get("/healthz"); st != 503 || !strings.Contains(body, "database") {
		t.Fatalf("healthz with the database closed: %d %q", st, body)
	}
}

// TestInternalErrorsLogNoSecrets: when the database fails, the client gets
// "internal error" and the log gets the cause, but never a password or a
// token.
func TestInternalErrorsLogNoSecrets(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.login("heidi", "secret-password-1")
	var token string
	for _, c := range b.jar.Cookies(mustURL(t, b.base)) {
		token = c.Value
	}
	e.store.Close()
	for _, step := range []struct{ method, path string }{{"POST", "/api/login"}, {"GET", "/api/me"}, {"POST", "/api/register"}} {
		st, m := b.call(step.method, step.path, credentials{"heidi", "secret-password-2"})
		if st != 500 || m["error"] != "internal error" {
			t.Errorf("%s %s with the database closed: %d %v", step.method, step.path, st, m)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "closed") {
		t.Errorf("the cause is not logged: %q", logs)
	}
	for _, secret := range []string{"secret-password-1", "secret-password-2", token} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret %q: %s", secret, logs)
		}
	}
}

func TestNewConfigErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{name: "no app", cfg: Config{}, field: "Config.App"},
		{name: "bad proxy", cfg: Config{App: e.app, TrustedProxies: []netip.Prefix{{}}}, field: "Config.TrustedProxies"},
		{name: "bad origin", cfg: Config{App: e.app, TrustedOrigins: []string{"not an origin"}}, field: "Config.TrustedOrigins"},
		{name: "negative interval", cfg: Config{App: e.app, StatsInterval: -1}, field: "Config.StatsInterval"},
		{name: "negative heartbeat", cfg: Config{App: e.app, Heartbeat: -1}, field: "Config.Heartbeat"},
		{name: "negative streams", cfg: Config{App: e.app, MaxStreams: -1}, field: "Config.MaxStreams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(tt.cfg)
			if err == nil {
				h.Close()
				t.Fatal("New accepted a bad config")
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}
