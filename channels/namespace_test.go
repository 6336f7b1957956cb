package channels

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAccessAllows(t *testing.T) {
	tests := []struct {
		access  Access
		user    string // "" is anonymous
		channel string
		want    bool
	}{
		{AccessAnyone, "", "room:a", true},
		{AccessAnyone, "7", "room:a", true},
		{AccessUsers, "", "room:a", false},
		{AccessUsers, "7", "room:a", true},
		{AccessOwner, "", "user:7", false},
		{AccessOwner, "7", "user:7", true},
		{AccessOwner, "8", "user:7", false},
		{AccessOwner, "7", "user:77", false},
		{AccessOwner, "7", "user:7/inbox", false},
		{AccessOwner, "42", "42", true}, // the default namespace: the whole name is the owner
		{AccessServer, "", "room:a", false},
		{AccessServer, "7", "user:7", false},
	}
	for _, tt := range tests {
		if got := tt.access.allows(tt.user, mustName(t, tt.channel)); got != tt.want {
			t.Errorf("%v.allows(%q, %q) = %v, want %v", tt.access, tt.user, tt.channel, got, tt.want)
		}
	}
}

func TestAccessText(t *testing.T) {
	for _, a := range []Access{AccessUsers, AccessAnyone, AccessOwner, AccessServer} {
		b, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Access
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Fatalf("%v round-trips to %v, %v", a, back, err)
		}
	}
	var a Access
	if err := a.UnmarshalText([]byte("everyone")); err == nil || !strings.Contains(err.Error(), "want users, anyone, owner or server") {
		t.Fatalf("UnmarshalText(everyone) = %v", err)
	}
	if _, err := Access(9).MarshalText(); err == nil {
		t.Fatal("MarshalText of an invalid Access succeeded")
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // the ConfigError's Field
	}{
		{"no encoder", Config{Encoder: nil}, "Config.Encoder"},
		{"owner DMs", Config{DirectMessages: AccessOwner}, "Config.DirectMessages"},
		{"negative data size", Config{MaxDataSize: -1}, "Config.MaxDataSize"},
		{"negative channels", Config{MaxChannelsPerClient: -1}, "Config.MaxChannelsPerClient"},
		{"bad namespace", Config{Namespaces: []Namespace{{Name: "Room"}}}, "Config.Namespaces[0].Name"},
		{"duplicate", Config{Namespaces: []Namespace{{Name: "a"}, {Name: "a"}}}, "Config.Namespaces[1].Name"},
		{"join without presence", Config{Namespaces: []Namespace{{Name: "a", JoinLeave: true}}}, "Config.Namespaces[0].JoinLeave"},
		{"negative history", Config{Namespaces: []Namespace{{HistorySize: -1}}}, "Config.Namespaces[0].HistorySize"},
		{"TTL without size", Config{Namespaces: []Namespace{{HistoryTTL: time.Hour}}}, "Config.Namespaces[0].HistoryTTL"},
		{"negative max", Config{Namespaces: []Namespace{{MaxSubscribers: -2}}}, "Config.Namespaces[0].MaxSubscribers"},
		{"bad access", Config{Namespaces: []Namespace{{Publish: 7}}}, "Config.Namespaces[0].Publish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.field != "Config.Encoder" {
				tt.cfg.Encoder = testEncoder
			}
			_, err := NewHub(tt.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("NewHub = %v, want a ConfigError for %s", err, tt.field)
			}
		})
	}
}

func TestDefaultNamespaces(t *testing.T) {
	h := newTestHub(t, Config{})
	room, err := h.Namespace(mustName(t, "room:lobby"))
	if err != nil || !room.Presence || !room.JoinLeave || room.HistorySize != 100 || room.HistoryTTL != DefaultHistoryTTL {
		t.Fatalf("room = %+v, %v", room, err)
	}
	user, err := h.Namespace(mustName(t, "user:1"))
	if err != nil || user.Subscribe != AccessOwner || user.Publish != AccessServer {
		t.Fatalf("user = %+v, %v", user, err)
	}
	if _, err := h.Namespace(mustName(t, "general")); err != nil {
		t.Fatalf("default namespace: %v", err)
	}
	if _, err := h.Namespace(mustName(t, "game:1")); !errors.Is(err, ErrUnknownNamespace) {
		t.Fatalf("game:1: %v", err)
	}
	// A history namespace without a TTL gets the default one.
	h = newTestHub(t, Config{Namespaces: []Namespace{{Name: "a", HistorySize: 5}}})
	if a, _ := h.Namespace(mustName(t, "a:x")); a.HistoryTTL != DefaultHistoryTTL {
		t.Fatalf("HistoryTTL = %v", a.HistoryTTL)
	}
	if _, err := h.Namespace(mustName(t, "x")); !errors.Is(err, ErrUnknownNamespace) {
		t.Fatalf("no default namespace configured, but x: %v", err)
	}
}

// TestPermissions runs every client operation against the default
// namespaces as anonymous, as a user and as the channel's owner.
func TestPermissions(t *testing.T) {
	h := newTestHub(t, Config{})
	ctx := t.Context()
	clients := map[string]*Client{
		"anon":  h.Connect(newSink(1, "")),
		"alice": h.Connect(newSink(2, "1")),
		"bob":   h.Connect(newSink(3, "2")),
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	tests := []struct {
		client, channel    string
		subscribe, publish bool
	}{
		{"anon", "general", false, false},
		{"alice", "general", true, true},
		{"anon", "room:lobby", false, false},
		{"alice", "room:lobby", true, true},
		{"alice", "user:1", true, false}, // her own channel: only the backend publishes
		{"bob", "user:1", false, false},
		{"anon", "user:1", false, false},
	}
	for _, tt := range tests {
		c, ch := clients[tt.client], mustName(t, tt.channel)
		_, err := c.Subscribe(ctx, ch, SubscribeOptions{})
		if (err == nil) != tt.subscribe || (err != nil && !errors.Is(err, ErrPermissionDenied)) {
			t.Errorf("%s subscribes to %s: %v, want allowed=%v", tt.client, tt.channel, err, tt.subscribe)
		}
		if err := h.CanSubscribe(c.User(), ch); (err == nil) != tt.subscribe {
			t.Errorf("CanSubscribe(%s, %s) = %v", tt.client, tt.channel, err)
		}
		_, err = c.Publish(ctx, ch, []byte(`"hi"`))
		if (err == nil) != tt.publish || (err != nil && !errors.Is(err, ErrPermissionDenied)) {
			t.Errorf("%s publishes to %s: %v, want allowed=%v", tt.client, tt.channel, err, tt.publish)
		}
		if err := h.CanPublish(c.User(), ch); (err == nil) != tt.publish {
			t.Errorf("CanPublish(%s, %s) = %v", tt.client, tt.channel, err)
		}
		if _, _, err := c.History(ctx, ch, Query{}); tt.subscribe == errors.Is(err, ErrPermissionDenied) {
			t.Errorf("%s reads the history of %s: %v", tt.client, tt.channel, err)
		}
	}
	// The backend may do anything, and may subscribe a connection where
	// the client may not.
	if _, err := h.Publish(ctx, mustName(t, "user:1"), []byte(`"note"`)); err != nil {
		t.Fatalf("backend publish: %v", err)
	}
	if _, err := clients["bob"].Subscribe(ctx, mustName(t, "user:1"), SubscribeOptions{Server: true}); err != nil {
		t.Fatalf("server-side subscription: %v", err)
	}
	// Direct messages: users by default, not anonymous connections.
	if _, err := clients["anon"].SendToUser("1", []byte(`1`)); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("anonymous DM: %v", err)
	}
	if _, err := clients["bob"].SendToUser("1", []byte(`1`)); err != nil {
		t.Fatalf("DM: %v", err)
	}
	if s := h.Stats(); s.Denied == 0 {
		t.Fatal("refusals not counted")
	}
}
