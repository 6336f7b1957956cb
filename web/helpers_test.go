package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"wharf/internal/testkit"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
	"wharf/chat"
	"wharf/packet"
	"wharf/server"
	"wharf/websocket"
)

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a web app on a fresh SQLite database, served by httptest.
type env struct {
	t     testing.TB
	store accounts.Store
	acc   *accounts.Service
	app   *chat.App
	h     *Handler
	srv   *httptest.Server // the public face
	admin *httptest.Server // Handler.Admin
	logs  *lockedBuffer
	pkt   *server.Server    // the packet server, if withPackets
	ws    *websocket.Server // the packet protocol at /ws, if webSocket
	pktAt string            // its address
}

type envOptions struct {
	chat        chat.Config
	accounts    accounts.Config
	web         func(*Config) // adjusts the web Config before New
	withPackets bool          // also run a packet server on the same App, and report its stats
	webSocket   bool          // with withPackets, serve the packet protocol at /ws (as wharfd does)
	tls         bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "web.db"), accounts.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	o.accounts.BcryptCost = bcrypt.MinCost
	acc, err := accounts.NewService(store, o.accounts)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.chat.Logger = logger
	app, err := chat.New(acc, o.chat)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, acc: acc, app: app, logs: logs}

	cfg := Config{App: app, Logger: logger}
	if o.withPackets {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		rt := server.NewRouter()
		app.Routes(rt)
		pkt, err := server.New(server.Config{Logger: quiet, StatsInterval: -1, FloodMode: server.FloodOff}, rt)
		if err != nil {
			t.Fatal(err)
		}
		app.Attach(pkt)
		addr, err := pkt.Listen("tcp://127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := pkt.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pkt.Shutdown(ctx)
		})
		e.pkt, e.pktAt = pkt, addr.String()
		if o.webSocket {
			e.ws, err = websocket.NewStreamServer(websocket.Config{
				Subprotocols: []string{packet.WebSocketSubprotocol}, RequireSubprotocol: true,
				MaxMessageSize: int64(pkt.Config().MaxPacket),
			}, pkt.Handler())
			if err != nil {
				t.Fatal(err)
			}
			cfg.WebSocket = e.ws
		}
		cfg.Stats = func(context.Context) (Stats, error) {
			st := ServerStats(pkt.Stats())
			cs := app.Hub().Stats()
			st.Channels = &cs
			return st, nil
		}
	}
	if o.web != nil {
		o.web(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	if o.tls {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	e.admin = httptest.NewServer(h.Admin())
	t.Cleanup(func() {
		h.Close()
		e.srv.Close()
		e.admin.Close()
	})
	return e
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	t    testing.TB
	e    *env
	c    *http.Client
	jar  *cookiejar.Jar
	base string
}

func (e *env) browser() *browser { return e.browserOf(e.srv) }

// operator is a browser on the admin listener.
func (e *env) operator() *browser { return e.browserOf(e.admin) }

func (e *env) browserOf(srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c2 := *c
	c2.Jar = jar
	c2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c2.Timeout = 30 * time.Second
	e.t.Cleanup(c2.CloseIdleConnections)
	return &browser{t: e.t, e: e, c: &c2, jar: jar, base: srv.URL}
}

// do sends a request; body is sent as is when a string, else as JSON.
func (b *browser) do(method, path string, body any, hdr map[string]string) *http.Response {
	b.t.Helper()
	var rd io.Reader
	ctype := ""
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
		ctype = "application/json"
	case []byte:
		rd = bytes.NewReader(v)
		ctype = "application/json"
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// form posts an HTML form.
func (b *browser) form(path string, fields map[string]string, hdr map[string]string) *http.Response {
	b.t.Helper()
	var vals []string
	for k, v := range fields {
		vals = append(vals, k+"="+urlEscape(v))
	}
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range hdr {
		h[k] = v
	}
	req, err := http.NewRequest("POST", b.base+path, strings.NewReader(strings.Join(vals, "&")))
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

// get fetches path and returns the status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp := b.do("GET", path, nil, nil)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// call sends a JSON request and decodes the JSON reply.
func (b *browser) call(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	resp := b.do(method, path, body, nil)
	defer resp.Body.Close()
	return resp.StatusCode, decodeReply(b.t, resp)
}

func decodeReply(t testing.TB, resp *http.Response) map[string]any {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %q", resp.Request.Method, resp.Request.URL.Path, ct, raw)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("reply %q is not a JSON object: %v", raw, err)
	}
	return m
}

// register and login make an account and log b in.
func (b *browser) login(user, pass string) {
	b.t.Helper()
	if st, m := b.call("POST", "/api/register", credentials{user, pass}); st != 200 {
		b.t.Fatalf("register %s: %d %v", user, st, m)
	}
	if st, m := b.call("POST", "/api/login", credentials{user, pass}); st != 200 {
		b.t.Fatalf("login %s: %d %v", user, st, m)
	}
}

// cookie returns the cookie of that name in resp's Set-Cookie, or nil.
func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D", " ", "+", "\n", "%0A", "#", "%23")
	return r.Replace(s)
}

// sse reads Server-Sent Events.
type sse struct {
	t      testing.TB
	resp   *http.Response
	cancel context.CancelFunc
	events chan sseEvent // closed at EOF
}

type sseEvent struct {
	name, data string
	comment    bool
}

// events opens /api/events as b.
func (b *browser) events() *sse {
	b.t.Helper()
	return b.eventsAt("/api/events")
}

// eventsAt opens an event stream at path (with a query) as b.
func (b *browser) eventsAt(path string) *sse {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	c := *b.c
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		b.t.Fatal(err)
	}
	s := &sse{t: b.t, resp: resp, cancel: cancel, events: make(chan sseEvent, 1024)}
	b.t.Cleanup(s.close)
	if resp.StatusCode != 200 {
		close(s.events)
		return s
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				s.events <- sseEvent{comment: true, data: line}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

func (s *sse) close() {
	s.cancel()
	s.resp.Body.Close()
	for range s.events {
	}
}

// next returns the next event named name (skipping others), failing after
// a generous timeout. ok is false at the end of the stream.
func (s *sse) next(name string) (sseEvent, bool) {
	s.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return sseEvent{}, false
			}
			if ev.name == name || (name == ":" && ev.comment) {
				return ev, true
			}
		case <-timeout:
			s.t.Fatalf("no %q event within 20s", name)
		}
	}
}

// waitEnd waits for the stream to end.
func (s *sse) waitEnd() {
	s.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-timeout:
			s.t.Fatal("stream did not end within 20s")
		}
	}
}

var eventually = testkit.Eventually

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (h *Handler) streamCount() int {
	h.events.mu.Lock()
	defer h.events.mu.Unlock()
	return len(h.events.streams)
}
