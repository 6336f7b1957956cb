package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/internal/testkit"
)

// Timing of the test nodes: fast heartbeats, so liveness tests take a
// fraction of a second.
const (
	testHeartbeat = 50 * time.Millisecond
	testDeadAfter = 3 * testHeartbeat
)

// testNamespaces: "general" without presence or history, "room" with
// presence and join/leave, "log" with history.
var testNamespaces = []channels.Namespace{
	{Name: ""},
	{Name: "room", Presence: true, JoinLeave: true},
	{Name: "log", HistorySize: 1000},
}

// frameEncoder frames each message as a 4-byte length and its binary
// form, so a sink can split a delivery into messages.
var frameEncoder = channels.EncoderFunc(func(dst []byte, m *channels.Message) ([]byte, error) {
	body, _ := m.AppendBinary(nil)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...), nil
})

// sink is a Subscriber whose deliveries a test awaits.
type sink struct {
	id   uint64
	user string
	msgs chan channels.Message
}

func newSink(id uint64, user string) *sink {
	return &sink{id: id, user: user, msgs: make(chan channels.Message, 4096)}
}

func (s *sink) ID() uint64     { return s.id }
func (s *sink) UserID() string { return s.user }

func (s *sink) Deliver(p []byte) error {
	for len(p) > 0 {
		n := int(binary.BigEndian.Uint32(p))
		var m channels.Message
		if err := m.UnmarshalBinary(p[4 : 4+n]); err != nil {
			panic(err)
		}
		select {
		case s.msgs <- m:
		default:
			return channels.ErrSubscriberOverloaded
		}
		p = p[4+n:]
	}
	return nil
}

// next waits for the sink's next message.
func (s *sink) next(t *testing.T) channels.Message {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(testkit.Timeout):
		t.Fatalf("sink %d (user %q): no message within %v", s.id, s.user, testkit.Timeout)
		return channels.Message{}
	}
}

// nextData waits for the next message and returns its data.
func (s *sink) nextData(t *testing.T) string {
	t.Helper()
	return string(s.next(t).Data)
}

// nextEvent waits for the next join or leave event, skipping other
// messages, and renders it as "join 7".
func (s *sink) nextEvent(t *testing.T) string {
	t.Helper()
	for {
		m := s.next(t)
		if m.Kind == channels.KindJoin || m.Kind == channels.KindLeave {
			return m.Kind.String() + " " + m.User
		}
	}
}

// empty reports whether no message is waiting.
func (s *sink) empty() bool { return len(s.msgs) == 0 }

// logs is a slog handler that keeps the messages logged, for tests that
// check an outage is logged.
type logs struct {
	mu   sync.Mutex // guards msgs
	msgs []string
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// count returns how many lines contained s.
func (l *logs) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// member is one node of a test cluster: its Node and its Hub.
type member struct {
	node *Node
	hub  *channels.Hub
	logs *logs
}

// testNodeConfig is the Config of test nodes; fields set in cfg win.
func testNodeConfig(url, name string, cfg Config) Config {
	cfg.URL, cfg.NodeName = url, name
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat, cfg.DeadAfter = testHeartbeat, testDeadAfter
	}
	if cfg.PresenceDelay == 0 {
		cfg.PresenceDelay = 2 * time.Millisecond
	}
	if cfg.ReconnectWait == 0 {
		cfg.ReconnectWait = 20 * time.Millisecond
	}
	return cfg
}

// join starts a node named name on the NATS server at url, with a Hub
// using it as broker and presence, and history (nil: memory).
func join(t *testing.T, url, name string, history channels.HistoryStore, cfg Config) *member {
	t.Helper()
	l := &logs{}
	cfg = testNodeConfig(url, name, cfg)
	cfg.Logger = slog.New(l)
	node, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() { node.Close() })
	hub, err := channels.NewHub(channels.Config{Namespaces: testNamespaces, Encoder: frameEncoder, Broker: node, Presence: node,
		History: history, Logger: slog.New(l)})
	if err != nil {
		t.Fatal(err)
	}
	return &member{node: node, hub: hub, logs: l}
}

// cluster starts nodes "a", "b", ... on url and waits until each sees
// every other.
func cluster(t *testing.T, url string, n int) []*member {
	t.Helper()
	var ms []*member
	for i := range n {
		ms = append(ms, join(t, url, string(rune('a'+i)), nil, Config{}))
	}
	waitNodes(t, ms, n)
	return ms
}

// waitNodes waits until every member sees want nodes, all in sync.
func waitNodes(t *testing.T, ms []*member, want int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("every node to see %d nodes in sync", want), func() bool {
		for _, m := range ms {
			nodes := m.node.Nodes()
			if len(nodes) != want || slices.ContainsFunc(nodes, func(n NodeInfo) bool { return !n.Synced }) {
				return false
			}
		}
		return true
	})
}

// connect connects a sink of user to hub and subscribes it to ch.
func connect(t *testing.T, hub *channels.Hub, s *sink, ch string, opts channels.SubscribeOptions) *channels.Client {
	t.Helper()
	c := hub.Connect(s)
	t.Cleanup(c.Close)
	if _, err := c.Subscribe(t.Context(), mustName(t, ch), opts); err != nil {
		t.Fatalf("Subscribe(%s): %v", ch, err)
	}
	return c
}

func mustName(t testing.TB, s string) channels.Name {
	t.Helper()
	n, err := channels.ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// members renders a hub's presence of ch as "7x2 8x1".
func members(t *testing.T, hub *channels.Hub, ch string) string {
	t.Helper()
	ms, err := hub.Presence(t.Context(), mustName(t, ch))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%sx%d", m.User, m.Conns))
	}
	return strings.Join(parts, " ")
}

// waitMembers waits until every hub's presence of ch is want.
func waitMembers(t *testing.T, ms []*member, ch, want string) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("presence of %s to be %q everywhere", ch, want), func() bool {
		for _, m := range ms {
			if members(t, m.hub, ch) != want {
				return false
			}
		}
		return true
	})
}

// pgHistory opens an accounts store on the PostgreSQL database at url and
// an SQLHistory on it, as a wharfd node does: each node has its own pool
// on the shared database.
func pgHistory(t *testing.T, url string) *channels.SQLHistory {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := accounts.Open(ctx, url, accounts.StoreOptions{})
	if err != nil {
		t.Fatalf("accounts.Open(%s): %v", accounts.RedactURL(url), err)
	}
	t.Cleanup(func() { st.Close() })
	db, _ := accounts.DatabaseOf(st)
	h, err := channels.OpenSQLHistory(ctx, channels.SQLDatabase{Dialect: db.Dialect, Writer: db.Writer, Reader: db.Reader}, channels.SQLHistoryConfig{})
	if err != nil {
		t.Fatalf("OpenSQLHistory: %v", err)
	}
	return h
}
