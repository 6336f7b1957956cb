package chat

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"wharf/internal/testkit"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
	"wharf/channels"
	"wharf/iplimit"
	"wharf/packet"
	"wharf/server"
)

type env struct {
	app   *App
	addr  string
	clock *testkit.Clock
}

func setup(t *testing.T) *env { return setupWith(t, Config{}) }

// setupWith is setup with cfg (its Logger and Clock are the test's).
func setupWith(t *testing.T, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "chat.db"), accounts.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	svc, err := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Logger, cfg.Clock = quiet, clock.Now
	app, err := New(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := server.NewRouter()
	app.Routes(rt)
	srv, err := server.New(server.Config{Logger: quiet, StatsInterval: -1, FloodMode: server.FloodOff}, rt)
	if err != nil {
		t.Fatal(err)
	}
	app.Attach(srv)
	a, err := srv.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &env{app: app, addr: a.String(), clock: clock}
}

type conn struct {
	t  *testing.T
	nc net.Conn
	r  *packet.Reader
}

func (e *env) dial(t *testing.T) *conn {
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &conn{t: t, nc: nc, r: packet.NewReader(nc)}
}

func (c *conn) recv() (uint16, map[string]any) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	code, body, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			c.t.Fatalf("reply %s is not JSON: %v", body, err)
		}
	}
	return code, m
}

func (c *conn) call(code uint16, v any) map[string]any {
	c.t.Helper()
	body, _ := json.Marshal(v)
	if err := packet.WritePacket(c.nc, code, body); err != nil {
		c.t.Fatal(err)
	}
	got, m := c.recv()
	if got != code {
		c.t.Fatalf("request code %d answered with code %d: %v", code, got, m)
	}
	return m
}

// refused sends a request that must be refused by a rate limit: a code 1
// error naming the request's code, with a retry_after in seconds.
func (c *conn) refused(code uint16, v any) map[string]any {
	c.t.Helper()
	body, _ := json.Marshal(v)
	if err := packet.WritePacket(c.nc, code, body); err != nil {
		c.t.Fatal(err)
	}
	got, m := c.recv()
	if got != packet.CodeError || m["code"] != float64(code) {
		c.t.Fatalf("request code %d answered with code %d %v, want a code 1 refusal", code, got, m)
	}
	if ra, ok := m["retry_after"].(float64); !ok || ra < 1 {
		c.t.Fatalf("refusal %v has no retry_after of at least 1s", m)
	}
	return m
}

type creds struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func TestRegisterLoginSay(t *testing.T) {
	e := setup(t)
	alice, bob, anon := e.dial(t), e.dial(t), e.dial(t)

	r := alice.call(CodeRegister, creds{"alice", "correct horse"})
	if r["ok"] != true || r["user_id"].(float64) < 1 {
		t.Fatalf("register: %v", r)
	}
	if r := bob.call(CodeRegister, creds{"bob", "battery staple"}); r["ok"] != true {
		t.Fatalf("register bob: %v", r)
	}
	if r := alice.call(CodeRegister, creds{"ALICE", "whatever12"}); r["ok"] != false || r["error"] != "username already taken" {
		t.Fatalf("duplicate register: %v", r)
	}

	if r := alice.call(CodeSay, map[string]string{"text": "too early"}); r["ok"] != false || r["error"] != "not logged in" {
		t.Fatalf("say before login: %v", r)
	}
	r = alice.call(CodeLogin, creds{"alice", "correct horse"})
	if r["ok"] != true || r["token"] == "" || r["user_id"] == nil {
		t.Fatalf("login: %v", r)
	}
	if r := bob.call(CodeLogin, creds{"bob", "battery staple"}); r["ok"] != true {
		t.Fatalf("login bob: %v", r)
	}

	if r := alice.call(CodeSay, map[string]string{"text": "hello, bob"}); r["ok"] != true {
		t.Fatalf("say: %v", r)
	}
	for _, c := range []*conn{alice, bob} {
		code, m := c.recv()
		if code != CodeMessage || m["from"] != "alice" || m["text"] != "hello, bob" || m["ts"].(float64) != float64(e.clock.Now().UnixMilli()) {
			t.Fatalf("push: code %d %v", code, m)
		}
	}
	// anon is not logged in: its next packet is the reply to its own ping.
	packet.WritePacket(anon.nc, packet.CodePing, nil)
	if code, _ := anon.recv(); code != packet.CodePing {
		t.Fatalf("a connection that is not logged in got code %d", code)
	}
	if h, err := e.app.LobbyHistory(t.Context()); err != nil || len(h) != 1 || h[0].Text != "hello, bob" || h[0].From != "alice" {
		t.Fatalf("LobbyHistory = %v, %v", h, err)
	}
}

func TestBadRequests(t *testing.T) {
	e := setup(t)
	c := e.dial(t)
	tests := []struct {
		name string
		code uint16
		body string
		want string // substring of the code 1 error
	}{
		{"not JSON", CodeRegister, `{"username": "x", "password": `, "malformed JSON: syntax error"},
		{"wrong type", CodeLogin, `{"username": 5, "password": "hunter2hunter2"}`, `field "username" must be a string`},
		{"array", CodeSay, `[1,2]`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packet.WritePacket(c.nc, tt.code, []byte(tt.body))
			code, m := c.recv()
			if code != packet.CodeError || int(m["code"].(float64)) != int(tt.code) || !strings.Contains(m["error"].(string), tt.want) {
				t.Fatalf("got code %d %v, want code 1 with %q", code, m, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		c    creds
		want string
	}{
		{creds{"al", "long enough"}, "invalid username: must be 3 to 32 characters"},
		{creds{"bad name", "long enough"}, "invalid username: may contain only"},
		{creds{"carol", "short"}, "invalid password: must be 8 to 72 bytes"},
	} {
		r := c.call(CodeRegister, tt.c)
		if r["ok"] != false || !strings.HasPrefix(r["error"].(string), tt.want) {
			t.Fatalf("register %v: %v, want %q", tt.c, r, tt.want)
		}
		if strings.Contains(r["error"].(string), tt.c.Password) {
			t.Fatal("error reply echoes the password")
		}
	}
	long := strings.Repeat("x", 1001)
	c.call(CodeRegister, creds{"dave", "password1"})
	c.call(CodeLogin, creds{"dave", "password1"})
	if r := c.call(CodeSay, map[string]string{"text": long}); r["ok"] != false || !strings.Contains(r["error"].(string), "too long") {
		t.Fatalf("long say: %v", r)
	}
	if r := c.call(CodeSay, map[string]string{"text": "bell\a"}); r["ok"] != false || !strings.Contains(r["error"].(string), "printable") {
		t.Fatalf("control char say: %v", r)
	}
}

func TestLoginFailuresLookAlikeAndAreThrottled(t *testing.T) {
	e := setup(t)
	c := e.dial(t)
	c.call(CodeRegister, creds{"erin", "the right one"})
	wrong := c.call(CodeLogin, creds{"erin", "the wrong one"})
	unknown := c.call(CodeLogin, creds{"nobody", "the wrong one"})
	if wrong["error"] != unknown["error"] || wrong["error"] != "invalid username or password" {
		t.Fatalf("wrong password %v vs unknown user %v: must be identical", wrong, unknown)
	}
	for range 9 { // 10 failures for erin in all ("nobody" counts only against the IP)
		c.call(CodeLogin, creds{"erin", "the wrong one"})
	}
	if r := c.refused(CodeLogin, creds{"erin", "the right one"}); !strings.Contains(r["error"].(string), "failed logins per user") {
		t.Fatalf("login after 10 failures: %v, want throttled", r)
	}
	e.clock.Add(10 * time.Second) // refills 10/min: more than one token
	if r := c.call(CodeLogin, creds{"erin", "the right one"}); r["ok"] != true {
		t.Fatalf("login after the bucket refilled: %v", r)
	}
	// Successes cost nothing: many in a row are fine.
	for range 30 {
		if r := c.call(CodeLogin, creds{"erin", "the right one"}); r["ok"] != true {
			t.Fatalf("repeated successful login throttled: %v", r)
		}
	}
}

// TestSayReachesSubscribers: a say from the web (App.Say) is a
// publication on the lobby, which a subscriber of any transport gets.
func TestSayReachesSubscribers(t *testing.T) {
	e := setup(t)
	u, err := e.app.Accounts().Register(context.Background(), "frank", "password99")
	if err != nil {
		t.Fatal(err)
	}
	web := newSinkSub("9")
	c := e.app.Hub().Connect(web)
	defer c.Close()
	if rep := e.app.Subscribe(t.Context(), c, SubscribeRequest{Channel: "room:lobby"}); !rep.OK {
		t.Fatalf("subscribe: %+v", rep)
	}
	if _, err := e.app.Say(t.Context(), iplimit.Key{}, u, "from the web"); err != nil {
		t.Fatal(err)
	}
	code, body := web.next(t)
	var p struct {
		Channel, From string
		Data          struct{ Text string }
	}
	json.Unmarshal(body, &p)
	if code != CodePublication || p.Channel != "room:lobby" || p.From != strconv.FormatInt(u.ID, 10) || p.Data.Text != "from the web" {
		t.Fatalf("got code %d %s", code, body)
	}
}

func TestHistoryKeepsTheNewest(t *testing.T) {
	e := setup(t)
	u := accounts.User{ID: 1, Username: "g"}
	for i := range 150 {
		if _, err := e.app.Say(t.Context(), iplimit.Key{}, u, strings.Repeat("m", i%5+1)+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second) // under the say limit
	}
	h, err := e.app.LobbyHistory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 100 {
		t.Fatalf("History holds %d, want 100", len(h))
	}
	if h[99].Text != strings.Repeat("m", 149%5+1)+string(rune('a'+149%26)) {
		t.Fatalf("newest message not last: %+v", h[99])
	}
}

// fakeRelay connects two Apps as if they were two worker processes.
type fakeRelay struct {
	mu   sync.Mutex
	subs []func([]byte)
	peer *fakeRelay
}

func (r *fakeRelay) Publish(topic string, data []byte) error {
	r.peer.mu.Lock()
	subs := append([]func([]byte){}, r.peer.subs...)
	r.peer.mu.Unlock()
	for _, fn := range subs {
		fn(data)
	}
	return nil
}

func (r *fakeRelay) Subscribe(topic string, fn func([]byte)) {
	r.mu.Lock()
	r.subs = append(r.subs, fn)
	r.mu.Unlock()
}

// TestRelayReachesOtherProcesses: two Apps, as two worker processes,
// share channels through a RelayBroker: a say on one reaches the other's
// clients of code 8 and its subscribers; a logout on one ends the logins
// of the other.
func TestRelayReachesOtherProcesses(t *testing.T) {
	ra, rb := &fakeRelay{}, &fakeRelay{}
	ra.peer, rb.peer = rb, ra
	a := setupWith(t, Config{Channels: channels.Config{Broker: channels.NewRelayBroker(ra, "channels")}})
	b := setupWith(t, Config{Channels: channels.Config{Broker: channels.NewRelayBroker(rb, "channels")}})
	a.app.Relay(ra)
	b.app.Relay(rb)
	onB, subB := b.dial(t), b.dial(t)
	onB.call(CodeRegister, creds{"hank", "password1"})
	token := onB.call(CodeLogin, creds{"hank", "password1"})["token"].(string)
	subB.call(CodeLogin, map[string]string{"token": token})
	if r := subB.call(CodeSubscribe, SubscribeRequest{Channel: "room:lobby"}); r["ok"] != true {
		t.Fatalf("subscribe: %v", r)
	}
	// The processes share the accounts database, where b finds the
	// speaker's name; here each has its own, so ivy is made in b's.
	ivy, err := b.app.Accounts().Register(t.Context(), "ivy", "password2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.app.Say(t.Context(), iplimit.Key{}, ivy, "across workers"); err != nil {
		t.Fatal(err)
	}
	code, m := onB.recv()
	if code != CodeMessage || m["from"] != "ivy" || m["text"] != "across workers" {
		t.Fatalf("got %d %v", code, m)
	}
	code, m = subB.recv()
	if code != CodePublication || m["from"] != strconv.FormatInt(ivy.ID, 10) || m["channel"] != "room:lobby" {
		t.Fatalf("subscriber got %d %v", code, m)
	}
	// The token of b's login is logged out through a: b's connection is
	// told at once.
	if err := a.app.Logout(t.Context(), token); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{onB, subB} {
		if code, m := c.recv(); code != CodeSessionEnded || m["reason"] != "logged_out" {
			t.Fatalf("after a logout in the other process: %d %v", code, m)
		}
	}
}
