package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"wharf/channels"
	"wharf/client"
	"wharf/server"
)

// tcpUser is a packet-protocol client logged in as a chat user.
type tcpUser struct {
	c    *client.Client
	push chan client.Message
}

func (e *env) tcpUser(t *testing.T, name, pass string) *tcpUser {
	t.Helper()
	u := &tcpUser{push: make(chan client.Message, 16)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.pktAt, client.Config{OnPush: func(code uint16, body []byte) {
		if code == client.CodeMessage {
			if m, err := client.DecodeMessage(body); err == nil {
				u.push <- m
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	u.c = c
	if _, err := c.Register(ctx, name, pass); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Login(ctx, name, pass); err != nil {
		t.Fatal(err)
	}
	return u
}

func decodeEvent(t *testing.T, ev sseEvent) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
		t.Fatalf("event %s data %q: %v", ev.name, ev.data, err)
	}
	return m
}

// TestEventsAcrossTransports: a message said over TCP reaches a web view
// subscribed to the lobby, one said on the web reaches the TCP client, and
// the stats events carry the packet server's real numbers.
func TestEventsAcrossTransports(t *testing.T) {
	e := newEnv(t, envOptions{withPackets: true, web: func(c *Config) { c.StatsInterval = 20 * time.Millisecond }})
	b := e.browser()
	b.login("alice", "correct horse")
	ev := b.eventsAt("/api/events?channels=room:lobby")
	if ev.resp.StatusCode != 200 || !strings.HasPrefix(ev.resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %q", ev.resp.StatusCode, ev.resp.Header.Get("Content-Type"))
	}
	hello := decodeEvent(t, mustNext(t, ev, "hello"))
	if u, _ := hello["user"].(map[string]any); u["username"] != "alice" || hello["stats"] != false || hello["stream"] == "" || hello["lobby"] != "room:lobby" {
		t.Fatalf("hello = %v, want alice, a stream and no statistics on the public face", hello)
	}
	ops := e.operator().events() // the statistics are on the admin face
	if hello := decodeEvent(t, mustNext(t, ops, "hello")); hello["stats"] != true || hello["user"] != nil || hello["stream"] != nil {
		t.Fatalf("operator hello = %v", hello)
	}
	if r := decodeEvent(t, mustNext(t, ev, "subscribe")); r["ok"] != true || r["channel"] != "room:lobby" {
		t.Fatalf("subscribe = %v", r)
	}

	bob := e.tcpUser(t, "bob", "correct horse")
	if err := bob.c.Say(context.Background(), "hello from tcp"); err != nil {
		t.Fatal(err)
	}
	m := decodeEvent(t, mustNext(t, ev, "publication"))
	if m["channel"] != "room:lobby" || m["data"].(map[string]any)["text"] != "hello from tcp" {
		t.Fatalf("publication event = %v", m)
	}
	if st, r := b.call("GET", "/api/names?ids="+m["from"].(string), nil); st != 200 || r["names"].(map[string]any)[m["from"].(string)] != "bob" {
		t.Fatalf("names: %d %v", st, r)
	}
	<-bob.push // bob's own message comes back to him too

	if st, r := b.call("POST", "/api/say", sayRequest{"hello from the web"}); st != 200 {
		t.Fatalf("say: %d %v", st, r)
	}
	select {
	case got := <-bob.push:
		if got.From != "alice" || got.Text != "hello from the web" {
			t.Fatalf("tcp client got %+v", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the web message did not reach the tcp client")
	}
	if m := decodeEvent(t, mustNext(t, ev, "publication")); m["data"].(map[string]any)["text"] != "hello from the web" {
		t.Fatalf("own publication event = %v", m)
	}

	// Stats events keep coming to the operator and see bob's connection.
	for {
		s, _ := decodeEvent(t, mustNext(t, ops, "stats"))["server"].(map[string]any)
		if s["online"].(float64) >= 1 && s["packets_in"].(float64) >= 3 {
			break
		}
	}
}

func mustNext(t *testing.T, s *sse, name string) sseEvent {
	t.Helper()
	ev, ok := s.next(name)
	if !ok {
		t.Fatalf("stream ended before a %q event", name)
	}
	return ev
}

// TestEventsAnonymous: a visitor who is not logged in may not subscribe to
// the lobby and gets no chat messages, like a packet connection without
// login, and no statistics (those are the operators'), while an
// operator's view gets statistics and no chat.
func TestEventsAnonymous(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.StatsInterval = 10 * time.Millisecond
		c.Stats = func(context.Context) (Stats, error) { return Stats{Server: server.Stats{Online: 5}}, nil }
	}})
	alice := e.browser()
	alice.login("alice", "correct horse")
	anon := e.browser().eventsAt("/api/events?channels=room:lobby")
	if hello := decodeEvent(t, mustNext(t, anon, "hello")); hello["user"] != nil {
		t.Fatalf("anonymous hello = %v", hello)
	}
	if r := decodeEvent(t, mustNext(t, anon, "subscribe")); r["ok"] != false || r["reason"] != "permission_denied" {
		t.Fatalf("anonymous subscribe = %v", r)
	}
	ops := e.operator().events()
	mustNext(t, ops, "stats")
	alice.call("POST", "/api/say", sayRequest{"members only"})
	// Several stats events later, still no message for either.
	for range 5 {
		mustNext(t, ops, "stats")
	}
	for _, s := range []*sse{anon, ops} {
		for {
			select {
			case ev := <-s.events:
				if ev.name == "publication" || (s == anon && ev.name == "stats") {
					t.Fatalf("view got %s %s", ev.name, ev.data)
				}
				continue
			default:
			}
			break
		}
	}
}

// TestEventsStatsOnlyWhenWatched: Config.Stats is not polled while no live
// view is open.
func TestEventsStatsOnlyWhenWatched(t *testing.T) {
	var calls atomic.Int64
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.StatsInterval = time.Millisecond
		c.Stats = func(context.Context) (Stats, error) {
			calls.Add(1)
			return Stats{}, nil
		}
	}})
	time.Sleep(50 * time.Millisecond) // fifty intervals with nobody watching
	if n := calls.Load(); n != 0 {
		t.Fatalf("Stats called %d times with no viewer", n)
	}
	pub := e.browser().events() // a visitor's view is not a reason either
	mustNext(t, pub, "hello")
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("Stats called %d times with only a visitor watching", n)
	}
	s := e.operator().events()
	mustNext(t, s, "stats")
	mustNext(t, s, "stats")
}

// TestEventsLogout: logging out ends the session's live views at once, with
// a logout event, and the hub forgets them.
func TestEventsLogout(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.login("alice", "correct horse")
	s := b.events()
	mustNext(t, s, "hello")
	if st, _ := b.call("POST", "/api/logout", nil); st != 200 {
		t.Fatal(st)
	}
	mustNext(t, s, "logout")
	s.waitEnd()
	eventually(t, "the stream to be forgotten", func() bool { return e.h.streamCount() == 0 })
}

// TestEventsSessionEndsElsewhere: a session deleted behind the web app's
// back (another process, expiry) is noticed at the next heartbeat.
func TestEventsSessionEndsElsewhere(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) { c.Heartbeat = 10 * time.Millisecond }})
	b := e.browser()
	b.login("alice", "correct horse")
	s := b.events()
	mustNext(t, s, "hello")
	mustNext(t, s, ":") // a heartbeat
	token := b.jar.Cookies(mustURL(t, b.base))[0].Value
	if err := e.acc.Logout(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	mustNext(t, s, "logout")
	s.waitEnd()
}

// TestEventsClientGone: a client that goes away frees its stream.
func TestEventsClientGone(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	var streams []*sse
	for range 3 {
		s := b.events()
		mustNext(t, s, "hello")
		streams = append(streams, s)
	}
	if n := e.h.streamCount(); n != 3 {
		t.Fatalf("%d streams open, want 3", n)
	}
	for _, s := range streams {
		s.close()
	}
	eventually(t, "streams to close", func() bool { return e.h.streamCount() == 0 })
	eventually(t, "wharf_http_streams to drop to 0", func() bool {
		return scrapeGauge(t, e, "wharf_http_streams") == 0
	})
}

// TestEventsClose: Close ends the streams and refuses new ones; the rest
// of the app keeps working.
func TestEventsClose(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.Stats = func(context.Context) (Stats, error) { return Stats{Server: server.Stats{Online: 1}}, nil }
	}})
	b := e.browser()
	s := b.events()
	mustNext(t, s, "hello")
	e.h.Close()
	s.waitEnd()
	e.h.Close() // idempotent
	again := b.events()
	if again.resp.StatusCode != 503 {
		t.Fatalf("events after Close: %d", again.resp.StatusCode)
	}
	if st, _ := b.get("/healthz"); st != 200 {
		t.Fatalf("healthz after Close: %d", st)
	}
}

// TestEventsLimit: MaxStreams bounds the open views.
func TestEventsLimit(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) { c.MaxStreams = 2; c.MaxAnonymousStreams = 2 }})
	b := e.browser()
	mustNext(t, b.events(), "hello")
	mustNext(t, b.events(), "hello")
	third := b.events()
	if third.resp.StatusCode != 503 || third.resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d, Retry-After %q", third.resp.StatusCode, third.resp.Header.Get("Retry-After"))
	}
}

// TestEventsAnonymousAndPerSourceLimits: visitors who are not logged in
// may hold only MaxAnonymousStreams views, one address only
// MaxStreamsPerIP; a logged-in user still gets a view when anonymous
// streams are at their cap, and the refusals are counted.
func TestEventsAnonymousAndPerSourceLimits(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) { c.MaxStreams = 10; c.MaxAnonymousStreams = 2; c.MaxStreamsPerIP = 4 }})
	anon := e.browser()
	mustNext(t, anon.events(), "hello")
	mustNext(t, anon.events(), "hello")
	if third := anon.events(); third.resp.StatusCode != 503 {
		t.Fatalf("third anonymous stream: %d, want 503", third.resp.StatusCode)
	}
	alice := e.browser()
	alice.login("alice", "correct horse")
	mustNext(t, alice.events(), "hello") // 3 from this address
	mustNext(t, alice.events(), "hello") // 4: the address's limit
	if fifth := alice.events(); fifth.resp.StatusCode != 503 {
		t.Fatalf("fifth stream from one address: %d, want 503", fifth.resp.StatusCode)
	}
	if v, _ := value(scrape(t, e), "wharf_http_streams_refused_total", nil); v != 2 {
		t.Fatalf("wharf_http_streams_refused_total = %v, want 2", v)
	}
}

// TestHubDropsLaggingStream: a view whose queue passes maxQueued is ended
// rather than holding memory or silently missing messages; the others go
// on.
func TestHubDropsLaggingStream(t *testing.T) {
	e := newEnv(t, envOptions{})
	hb := e.h.events
	slow, err := hb.joinStats()
	if err != nil {
		t.Fatal(err)
	}
	fast, err := hb.joinStats()
	if err != nil {
		t.Fatal(err)
	}
	big := event{"stats", make([]byte, 64<<10)}
	for range maxQueued/len(big.data) + 1 {
		hb.broadcast(big)
		fast.take() // fast keeps up
	}
	select {
	case <-slow.ended:
		if slow.reason != endLagging {
			t.Fatalf("reason %v", slow.reason)
		}
	default:
		t.Fatal("the lagging stream was not ended")
	}
	select {
	case <-fast.ended:
		t.Fatal("the stream that kept up was ended")
	default:
	}
	// An ended stream refuses deliveries as closed.
	if err := slow.Deliver(nil); err != channels.ErrSubscriberClosed {
		t.Fatalf("Deliver to an ended stream: %v", err)
	}
	hb.leave(slow)
	hb.leave(fast)
}

// TestEventsWithoutFlusher: a ResponseWriter that cannot flush ends the
// stream at once instead of buffering it forever.
func TestEventsWithoutFlusher(t *testing.T) {
	e := newEnv(t, envOptions{})
	rec := &noFlush{rec: httptest.NewRecorder()}
	done := make(chan struct{})
	go func() {
		e.h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/events", nil))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("stream on a writer without Flush did not end")
	}
	if e.h.streamCount() != 0 {
		t.Fatal("stream not forgotten")
	}
}

// noFlush hides httptest.ResponseRecorder's Flush.
type noFlush struct{ rec *httptest.ResponseRecorder }

func (n *noFlush) Header() http.Header         { return n.rec.Header() }
func (n *noFlush) Write(p []byte) (int, error) { return n.rec.Write(p) }
func (n *noFlush) WriteHeader(code int)        { n.rec.WriteHeader(code) }
