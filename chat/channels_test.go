package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"wharf/channels"
	"wharf/client"
	"wharf/jwtauth"
	"wharf/packet"
)

// sinkSub is a channels.Subscriber outside the packet server (as the web
// app's event streams are): it splits what it is given into packets.
type sinkSub struct {
	user string
	got  chan [2]any // code, body
}

func newSinkSub(user string) *sinkSub { return &sinkSub{user: user, got: make(chan [2]any, 1024)} }

func (s *sinkSub) ID() uint64     { return 1 << 62 }
func (s *sinkSub) UserID() string { return s.user }
func (s *sinkSub) Deliver(p []byte) error {
	if !Bodies(p, func(code uint16, body []byte) { s.got <- [2]any{code, append([]byte(nil), body...)} }) {
		return fmt.Errorf("bad packets")
	}
	return nil
}

func (s *sinkSub) next(t *testing.T) (uint16, []byte) {
	t.Helper()
	select {
	case g := <-s.got:
		return g[0].(uint16), g[1].([]byte)
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered")
		return 0, nil
	}
}

// expect reads the next packet and checks its code.
func (c *conn) expect(code uint16) map[string]any {
	c.t.Helper()
	got, m := c.recv()
	if got != code {
		c.t.Fatalf("got code %d %v, want code %d", got, m, code)
	}
	return m
}

// send writes a request without waiting for its reply.
func (c *conn) send(code uint16, v any) {
	c.t.Helper()
	body, _ := json.Marshal(v)
	if err := packet.WritePacket(c.nc, code, body); err != nil {
		c.t.Fatal(err)
	}
}

// user registers and logs in c as name and returns its user ID.
func (e *env) user(t *testing.T, c *conn, name string) string {
	t.Helper()
	c.call(CodeRegister, creds{name, "password99"})
	r := c.call(CodeLogin, creds{name, "password99"})
	if r["ok"] != true {
		t.Fatalf("login %s: %v", name, r)
	}
	return r["user"].(string)
}

func refusedWith(t *testing.T, r map[string]any, reason string) {
	t.Helper()
	if r["ok"] != false || r["reason"] != reason || r["error"] == "" {
		t.Fatalf("reply %v, want refused with reason %q", r, reason)
	}
}

// TestChannelsOverPackets: subscribe with join/leave, publish, presence,
// history and unsubscribe, with the replies and pushes of packet/SPEC.md
// 8.2.
func TestChannelsOverPackets(t *testing.T) {
	e := setup(t)
	alice, bob := e.dial(t), e.dial(t)
	aliceID, bobID := e.user(t, alice, "alice"), e.user(t, bob, "bob")

	alice.send(CodeSubscribe, SubscribeRequest{Channel: "room:x", JoinLeave: true})
	// Alice's own join comes first, then the reply.
	if m := alice.expect(CodeJoin); m["channel"] != "room:x" || m["user"] != aliceID {
		t.Fatalf("first packet %v, want alice's join", m)
	}
	if r := alice.expect(CodeSubscribe); r["ok"] != true || r["channel"] != "room:x" || r["offset"] != nil {
		t.Fatalf("subscribe reply %v", r)
	}
	if r := bob.call(CodeSubscribe, SubscribeRequest{Channel: "room:x"}); r["ok"] != true {
		t.Fatalf("bob subscribes: %v", r)
	}
	if m := alice.expect(CodeJoin); m["user"] != bobID || m["channel"] != "room:x" {
		t.Fatalf("join %v", m)
	}
	bob.send(CodePublish, PublishRequest{Channel: "room:x", Data: json.RawMessage(`{"text":"hi"}`)})
	checkPub := func(pub map[string]any) {
		t.Helper()
		if pub["channel"] != "room:x" || pub["offset"] != float64(1) || pub["from"] != bobID ||
			pub["ts"] != float64(e.clock.Now().UnixMilli()) || pub["data"].(map[string]any)["text"] != "hi" {
			t.Fatalf("publication %v", pub)
		}
	}
	checkPub(alice.expect(CodePublication))
	// Bob, subscribed, gets his publication before or after his reply.
	for range 2 {
		code, m := bob.recv()
		switch code {
		case CodePublication:
			checkPub(m)
		case CodePublish:
			if m["ok"] != true || m["channel"] != "room:x" || m["offset"] != float64(1) || m["epoch"] == "" || m["delivered"] != nil {
				t.Fatalf("publish reply %v", m)
			}
		default:
			t.Fatalf("bob got code %d %v", code, m)
		}
	}

	p := alice.call(CodePresence, ChannelRequest{Channel: "room:x"})
	members := p["members"].([]any)
	if p["ok"] != true || len(members) != 2 || members[0].(map[string]any)["user"] != aliceID {
		t.Fatalf("presence %v", p)
	}
	h := alice.call(CodeHistory, HistoryRequest{Channel: "room:x", Limit: 10})
	pubs := h["publications"].([]any)
	if h["ok"] != true || len(pubs) != 1 || h["offset"] != float64(1) || pubs[0].(map[string]any)["from"] != bobID {
		t.Fatalf("history %v", h)
	}
	if pubs[0].(map[string]any)["channel"] != nil {
		t.Fatal("history publications carry their channel")
	}

	if r := bob.call(CodeUnsubscribe, ChannelRequest{Channel: "room:x"}); r["ok"] != true {
		t.Fatalf("unsubscribe %v", r)
	}
	if m := alice.expect(CodeLeave); m["user"] != bobID {
		t.Fatalf("leave %v", m)
	}
	refusedWith(t, bob.call(CodeUnsubscribe, ChannelRequest{Channel: "room:x"}), "not_subscribed")
	refusedWith(t, alice.call(CodeSubscribe, SubscribeRequest{Channel: "room:x"}), "already_subscribed")
	if st := e.app.Hub().Stats(); st.Subscriptions != 1 || st.Joins != 2 || st.Leaves != 1 {
		t.Fatalf("hub stats %+v", st)
	}
}

// TestChannelPermissions: the refusals of packet/SPEC.md 8.3, by the
// namespaces' rules.
func TestChannelPermissions(t *testing.T) {
	e := setup(t)
	anon, alice, bob := e.dial(t), e.dial(t), e.dial(t)
	e.user(t, alice, "alice")
	bobID := e.user(t, bob, "bob")
	big := json.RawMessage(`"` + strings.Repeat("x", channels.DefaultMaxDataSize) + `"`)
	tests := []struct {
		name   string
		c      *conn
		code   uint16
		req    any
		reason string
	}{
		{"anonymous subscribes to a room", anon, CodeSubscribe, SubscribeRequest{Channel: "room:x"}, "permission_denied"},
		{"anonymous publishes", anon, CodePublish, PublishRequest{Channel: "room:x", Data: json.RawMessage(`1`)}, "permission_denied"},
		{"anonymous DM", anon, CodeSendDirect, DirectRequest{User: bobID, Data: json.RawMessage(`1`)}, "permission_denied"},
		{"another user's channel", alice, CodeSubscribe, SubscribeRequest{Channel: "user:" + bobID}, "permission_denied"},
		{"own channel, publish", bob, CodePublish, PublishRequest{Channel: "user:" + bobID, Data: json.RawMessage(`1`)}, "permission_denied"},
		{"bad name", alice, CodeSubscribe, SubscribeRequest{Channel: "room: x"}, "invalid_name"},
		{"unknown namespace", alice, CodeSubscribe, SubscribeRequest{Channel: "nope:x"}, "unknown_namespace"},
		{"join/leave without", alice, CodeSubscribe, SubscribeRequest{Channel: "general", JoinLeave: true}, "no_join_leave"},
		{"presence without", alice, CodePresence, ChannelRequest{Channel: "general"}, "no_presence"},
		{"history without", alice, CodeHistory, HistoryRequest{Channel: "general"}, "no_history"},
		{"presence of another's channel", alice, CodePresence, ChannelRequest{Channel: "user:" + bobID}, "permission_denied"},
		{"too large", alice, CodePublish, PublishRequest{Channel: "room:x", Data: big}, "too_large"},
		{"bad user", alice, CodeSendDirect, DirectRequest{User: "a b", Data: json.RawMessage(`1`)}, "bad_user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.t = t
			refusedWith(t, tt.c.call(tt.code, tt.req), tt.reason)
		})
	}
	// Own channel: subscribe yes; the backend publishes to it.
	if r := bob.call(CodeSubscribe, SubscribeRequest{Channel: "user:" + bobID}); r["ok"] != true {
		t.Fatalf("own channel: %v", r)
	}
	name, _ := channels.ParseName("user:" + bobID)
	if _, err := e.app.Publish(t.Context(), name, []byte(`{"note":1}`)); err != nil {
		t.Fatal(err)
	}
	if m := bob.expect(CodePublication); m["from"] != nil || m["channel"] != "user:"+bobID {
		t.Fatalf("backend publication %v", m)
	}
	// A body without data is malformed.
	alice.send(CodePublish, map[string]string{"channel": "room:x"})
	if m := alice.expect(packet.CodeError); m["code"] != float64(CodePublish) {
		t.Fatalf("publish without data: %v", m)
	}
}

// TestRecoveryOverPackets: a client that reconnects with its last offset
// and epoch gets what it missed before the subscribe reply; with a stale
// epoch it is told to resync.
func TestRecoveryOverPackets(t *testing.T) {
	e := setup(t)
	pub, sub := e.dial(t), e.dial(t)
	e.user(t, pub, "pub")
	e.user(t, sub, "sub")
	r := sub.call(CodeSubscribe, SubscribeRequest{Channel: "room:r", Recover: true})
	if r["ok"] != true || r["recovered"] != true || r["offset"] != nil {
		t.Fatalf("first subscribe %v", r)
	}
	publish := func(i int) {
		t.Helper()
		if r := pub.call(CodePublish, PublishRequest{Channel: "room:r", Data: json.RawMessage(fmt.Sprint(i))}); r["ok"] != true {
			t.Fatalf("publish %d: %v", i, r)
		}
	}
	publish(1)
	last := sub.expect(CodePublication)
	sub.nc.Close()
	for i := 2; i <= 4; i++ {
		publish(i)
	}
	again := e.dial(t)
	again.call(CodeLogin, creds{"sub", "password99"})
	again.send(CodeSubscribe, SubscribeRequest{Channel: "room:r", Recover: true, Offset: uint64(last["offset"].(float64)), Epoch: last["epoch"].(string)})
	for i := 2; i <= 4; i++ {
		if m := again.expect(CodePublication); m["offset"] != float64(i) || m["data"] != float64(i) {
			t.Fatalf("recovered %v, want offset %d", m, i)
		}
	}
	if r := again.expect(CodeSubscribe); r["ok"] != true || r["recovered"] != true || r["offset"] != float64(4) {
		t.Fatalf("recovering subscribe %v", r)
	}
	again.call(CodeUnsubscribe, ChannelRequest{Channel: "room:r"})
	r = again.call(CodeSubscribe, SubscribeRequest{Channel: "room:r", Recover: true, Offset: 2, Epoch: "stale"})
	if r["ok"] != true || r["recovered"] != false || r["offset"] != float64(4) {
		t.Fatalf("subscribe with a stale epoch %v, want recovered false", r)
	}
	if st := e.app.Hub().Stats(); st.Recovered != 2 || st.Resyncs != 1 {
		t.Fatalf("hub stats %+v", st)
	}
}

// TestLobbyBridgesCode8: the lobby's text publications reach clients of
// code 8 whatever published them; a client that subscribed gets code 12
// instead, never both.
func TestLobbyBridgesCode8(t *testing.T) {
	e := setup(t)
	old, modern, anon := e.dial(t), e.dial(t), e.dial(t)
	e.user(t, old, "old")
	modernID := e.user(t, modern, "modern")
	modern.call(CodeSubscribe, SubscribeRequest{Channel: "room:lobby"})
	// A code 11 publication to the lobby, with text.
	modern.send(CodePublish, PublishRequest{Channel: "room:lobby", Data: json.RawMessage(`{"text":"new style"}`)})
	if m := old.expect(CodeMessage); m["from"] != "modern" || m["text"] != "new style" {
		t.Fatalf("code 8 for a publication: %v", m)
	}
	for range 2 {
		if code, m := modern.recv(); code != CodePublish && (code != CodePublication || m["from"] != modernID) {
			t.Fatalf("modern client got %d %v", code, m)
		}
	}
	// A say: code 8 to old, code 12 to modern.
	if r := old.call(CodeSay, map[string]string{"text": "old style"}); r["ok"] != true {
		t.Fatalf("say %v", r)
	}
	if m := old.expect(CodeMessage); m["text"] != "old style" {
		t.Fatalf("say echo %v", m)
	}
	if m := modern.expect(CodePublication); m["data"].(map[string]any)["text"] != "old style" {
		t.Fatalf("say as a publication %v", m)
	}
	// The backend, without text: no code 8.
	lobby := e.app.Lobby()
	e.app.Publish(t.Context(), lobby, []byte(`{"score":3}`))
	modern.expect(CodePublication)
	e.app.Publish(t.Context(), lobby, []byte(`{"text":"from the backend"}`))
	if m := old.expect(CodeMessage); m["from"] != ServerName || m["text"] != "from the backend" {
		t.Fatalf("backend message %v", m)
	}
	// Nothing reached the anonymous connection.
	packet.WritePacket(anon.nc, packet.CodePing, nil)
	anon.expect(packet.CodePing)
}

// TestDirectMessagesReachEveryConnection: a DM reaches each connection of
// its user, on any transport, and no one else.
func TestDirectMessagesReachEveryConnection(t *testing.T) {
	e := setup(t)
	tab1, tab2, sender := e.dial(t), e.dial(t), e.dial(t)
	carolID := e.user(t, tab1, "carol")
	tab2.call(CodeLogin, creds{"carol", "password99"})
	senderID := e.user(t, sender, "dave")
	web := newSinkSub(carolID)
	wc := e.app.Hub().Connect(web)
	defer wc.Close()
	r := sender.call(CodeSendDirect, DirectRequest{User: carolID, Data: json.RawMessage(`{"text":"psst"}`)})
	if r["ok"] != true || len(r) != 1 {
		t.Fatalf("send direct %v, want {ok: true}", r)
	}
	for _, c := range []*conn{tab1, tab2} {
		if m := c.expect(CodeDirect); m["from"] != senderID || m["data"].(map[string]any)["text"] != "psst" || m["channel"] != nil {
			t.Fatalf("direct %v", m)
		}
	}
	if code, body := web.next(t); code != CodeDirect || !strings.Contains(string(body), "psst") {
		t.Fatalf("web got %d %s", code, body)
	}
	packet.WritePacket(sender.nc, packet.CodePing, nil)
	sender.expect(packet.CodePing)
}

// TestTokenLogin: the token of a password login logs in another
// connection (as the web app's cookie would); a bad token is refused;
// logging out ends both, with a code 19 push, and their subscriptions.
func TestTokenLogin(t *testing.T) {
	e := setup(t)
	first, second := e.dial(t), e.dial(t)
	first.call(CodeRegister, creds{"erin", "password99"})
	r := first.call(CodeLogin, creds{"erin", "password99"})
	token := r["token"].(string)
	if r["user"] == "" || r["name"] != "erin" || r["expires"].(float64) != float64(e.clock.Now().Add(24*time.Hour).UnixMilli()) {
		t.Fatalf("login reply %v", r)
	}
	r = second.call(CodeLogin, map[string]string{"token": token})
	if r["ok"] != true || r["user_id"] != r["user_id"] || r["name"] != "erin" || r["token"] != nil {
		t.Fatalf("token login %v", r)
	}
	if r := second.call(CodeLogin, map[string]string{"token": "nope"}); r["ok"] != false || r["error"] != "invalid or expired token" {
		t.Fatalf("bad token %v", r)
	}
	// The failed login logged second out of nothing: it is still erin.
	if r := second.call(CodeSubscribe, SubscribeRequest{Channel: "room:t"}); r["ok"] != true {
		t.Fatalf("subscribe after a refused token: %v", r)
	}
	if err := e.app.Logout(t.Context(), token); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{first, second} {
		if m := c.expect(CodeSessionEnded); m["reason"] != "logged_out" {
			t.Fatalf("code 19 %v", m)
		}
	}
	if n := e.app.Hub().Subscribers(mustName(t, "room:t")); n != 0 {
		t.Fatalf("%d subscribers left after the logout", n)
	}
	refusedWith(t, second.call(CodeSubscribe, SubscribeRequest{Channel: "room:t"}), "permission_denied")
	if r := second.call(CodeLogin, map[string]string{"token": token}); r["ok"] != false {
		t.Fatalf("token login after logout %v", r)
	}
	if st := e.app.Stats(); st.TokenLogins != 1 || st.RefusedTokens != 2 || st.SessionsEnded != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestJWTLogin: a JWT from the application's backend logs a user in
// without an account, subscribes its channels claim, and its exp ends the
// login (exp has a precision of a second: the test waits one).
func TestJWTLogin(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	var e *env
	v, err := jwtauth.New(jwtauth.Config{HMACSecret: secret, Clock: func() time.Time { return e.clock.Now() }})
	if err != nil {
		t.Fatal(err)
	}
	e = setupWith(t, Config{JWT: v})
	c := e.dial(t)
	sign := func(cl jwtauth.Claims) string {
		tok, err := jwtauth.SignHMAC(secret, cl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if r := c.call(CodeLogin, map[string]string{"token": sign(jwtauth.Claims{Subject: "ext-1", Expires: e.clock.Now().Add(-time.Second)})}); r["ok"] != false {
		t.Fatalf("expired JWT %v", r)
	}
	if r := c.call(CodeLogin, map[string]string{"token": sign(jwtauth.Claims{Subject: "bad sub", Expires: e.clock.Now().Add(time.Hour)})}); r["ok"] != false {
		t.Fatalf("JWT with a bad sub %v", r)
	}
	tok := sign(jwtauth.Claims{Subject: "ext-1", Name: "Ext", Expires: e.clock.Now().Add(time.Second), Channels: []string{"user:ext-1", "room:vip", "bad name"}})
	r := c.call(CodeLogin, map[string]string{"token": tok})
	if r["ok"] != true || r["user"] != "ext-1" || r["name"] != "Ext" || r["user_id"] != nil || fmt.Sprint(r["channels"]) != "[user:ext-1 room:vip]" {
		t.Fatalf("JWT login %v", r)
	}
	e.app.Publish(t.Context(), mustName(t, "user:ext-1"), []byte(`"hello"`))
	if m := c.expect(CodePublication); m["data"] != "hello" {
		t.Fatalf("publication %v", m)
	}
	if m := c.expect(CodeSessionEnded); m["reason"] != "expired" {
		t.Fatalf("at exp: %v", m)
	}
	if n := e.app.Hub().Subscribers(mustName(t, "room:vip")); n != 0 {
		t.Fatalf("%d subscribers after the JWT expired", n)
	}
	if st := e.app.Stats(); st.JWTLogins != 1 || st.RefusedTokens != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPublishLimits: publications are limited per user and per address
// with code 1 refusals, counted.
func TestPublishLimits(t *testing.T) {
	e := setupWith(t, Config{
		PublishBurst: 3, PublishRate: 1, PublishPerIPBurst: 5, PublishPerIPRate: 1,
		Channels: channels.Config{Namespaces: []channels.Namespace{{Name: "room"}, {Name: "open", Subscribe: channels.AccessAnyone, Publish: channels.AccessAnyone}}},
	})
	c := e.dial(t)
	e.user(t, c, "pubber")
	body := PublishRequest{Channel: "room:p", Data: json.RawMessage(`1`)}
	for i := range 3 {
		if r := c.call(CodePublish, body); r["ok"] != true {
			t.Fatalf("publish %d: %v", i, r)
		}
	}
	if r := c.refused(CodePublish, body); !strings.Contains(r["error"].(string), "publish per user") {
		t.Fatalf("past the user's burst: %v", r)
	}
	e.clock.Add(time.Second)
	anon := e.dial(t)
	open := PublishRequest{Channel: "open:p", Data: json.RawMessage(`1`)}
	if r := anon.call(CodePublish, open); r["ok"] != true {
		t.Fatalf("anonymous publish: %v", r)
	}
	// The address has spent 4 of its 5 (plus a second's refill): a few
	// more and it is refused.
	for i := 0; ; i++ {
		anon.send(CodePublish, open)
		if code, m := anon.recv(); code == packet.CodeError {
			if !strings.Contains(m["error"].(string), "publish per address") {
				t.Fatalf("refusal %v", m)
			}
			break
		}
		if i == 10 {
			t.Fatal("the address was never refused")
		}
	}
	if st := e.app.Stats(); st.RefusedPubUser != 1 || st.RefusedPubIP == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func mustName(t *testing.T, s string) channels.Name {
	t.Helper()
	n, err := channels.ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGoClientChannels: package client's channel methods against the
// App: login with a token, subscribe with recovery, publish, presence,
// history, direct messages, and refusals as *client.ChannelError.
func TestGoClientChannels(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	pushes := make(chan [2]any, 64)
	dial := func() *client.Client {
		c, err := client.Dial(ctx, e.addr, client.Config{OnPush: func(code uint16, body []byte) {
			pushes <- [2]any{code, append([]byte(nil), body...)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := dial(), dial()
	if _, err := a.Register(ctx, "gopher", "password99"); err != nil {
		t.Fatal(err)
	}
	_, token, err := a.Login(ctx, "gopher", "password99")
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.LoginToken(ctx, token)
	if err != nil || s.Name != "gopher" || s.User == "" || !s.Expires.Equal(e.clock.Now().Add(24*time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("LoginToken = %+v, %v", s, err)
	}
	if _, err := b.Subscribe(ctx, "room:go", client.SubscribeOptions{Recover: true}); err != nil {
		t.Fatal(err)
	}
	off, epoch, err := a.Publish(ctx, "room:go", json.RawMessage(`{"text":"hi"}`))
	if err != nil || off != 1 || epoch == "" {
		t.Fatalf("Publish = %d %q %v", off, epoch, err)
	}
	g := <-pushes
	var p client.Publication
	if err := client.DecodePush(g[1].([]byte), &p); err != nil || g[0] != client.CodePublication || p.Offset != 1 || p.From != s.User {
		t.Fatalf("push %d %+v %v", g[0], p, err)
	}
	if m, _, err := a.Presence(ctx, "room:go"); err != nil || len(m) != 1 || m[0].User != s.User || m[0].Conns != 1 {
		t.Fatalf("Presence = %v, %v", m, err)
	}
	pubs, top, _, more, err := a.History(ctx, "room:go", 10, nil)
	if err != nil || len(pubs) != 1 || top != 1 || more {
		t.Fatalf("History = %v %d %v %v", pubs, top, more, err)
	}
	if err := a.SendDirect(ctx, s.User, json.RawMessage(`"dm"`)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // both of gopher's connections
		if g := <-pushes; g[0] != client.CodeDirect {
			t.Fatalf("push %d %s, want a direct message", g[0], g[1])
		}
	}
	var ce *client.ChannelError
	if err := b.Unsubscribe(ctx, "room:nope"); !errors.As(err, &ce) || ce.Reason != "not_subscribed" {
		t.Fatalf("Unsubscribe of a channel not subscribed: %v", err)
	}
}

// TestDerivedTokens: a token derived from a session logs a packet
// connection in, and logging the session out ends that connection too.
func TestDerivedTokens(t *testing.T) {
	a := setup(t)
	c := a.dial(t)
	c.call(CodeRegister, creds{"dee", "password99"})
	cookie := c.call(CodeLogin, creds{"dee", "password99"})["token"].(string)
	derived, expires, err := a.app.DeriveToken(t.Context(), cookie)
	if err != nil || derived == cookie || !expires.Equal(a.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("DeriveToken = %q, %v, %v", derived, expires, err)
	}
	ws := a.dial(t)
	if r := ws.call(CodeLogin, map[string]string{"token": derived}); r["ok"] != true || r["name"] != "dee" {
		t.Fatalf("login with the derived token: %v", r)
	}
	if err := a.app.Logout(t.Context(), cookie); err != nil {
		t.Fatal(err)
	}
	for _, conn := range []*conn{c, ws} {
		if m := conn.expect(CodeSessionEnded); m["reason"] != "logged_out" {
			t.Fatalf("code 19 %v", m)
		}
	}
	if _, err := a.app.Accounts().Authenticate(t.Context(), derived); err == nil {
		t.Fatal("the derived token outlived its session's logout")
	}
}
