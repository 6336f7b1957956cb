package chat

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/server"
)

// The lobby is the chat room of codes 7 and 8, as a channel: say publishes
// {"text": "..."} to it, and its text publications, whoever made them
// (say, code 11, the web app, the push API, another worker), are also
// pushed with code 8 {"from": "<name>", "text", "ts"} to the logged-in
// packet connections that have not subscribed to any channel. A client
// that subscribes (code 9) gets publications instead, so it never sees a
// message twice.

// lobbyText is the data of a lobby message.
type lobbyText struct {
	Text string `json:"text"`
}

// sayLobby publishes a say (m, checked and rate limited) to the lobby as
// user, and pushes it to the clients of code 8.
func (a *App) sayLobby(ctx context.Context, user string, m Message) error {
	data, _ := json.Marshal(lobbyText{m.Text}) // a string: cannot fail
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := a.hub.PublishAs(ctx, user, a.lobby, data); err != nil {
		return err
	}
	a.pushMessage(m)
	return nil
}

// toLegacy pushes a lobby publication of data from the user from (its
// name, if the caller knows it) to the clients of code 8, if data is a
// lobby message. A text that say would refuse (control characters) is not
// pushed.
func (a *App) toLegacy(ctx context.Context, from, name string, data []byte, ts int64) {
	var d struct {
		Text *string `json:"text"`
	}
	if json.Unmarshal(data, &d) != nil || d.Text == nil || a.check(*d.Text) != nil {
		return
	}
	if name == "" {
		name = a.Name(ctx, from)
	}
	a.pushMessage(Message{From: name, Text: *d.Text, TS: ts})
}

// pushMessage sends m with code 8 to the logged-in packet connections that
// use no channels, on every attached server.
func (a *App) pushMessage(m Message) {
	body, _ := json.Marshal(m) // strings and an int64: cannot fail
	a.mu.Lock()
	servers := append([]*server.Server(nil), a.servers...)
	a.mu.Unlock()
	for _, srv := range servers {
		srv.Broadcast(CodeMessage, body, wantsMessages)
	}
}

// wantsMessages reports whether c gets code 8 messages: it is logged in
// and has not subscribed to a channel.
func wantsMessages(c *server.Conn) bool {
	p, ok := c.Value().(*peer)
	if !ok || p.modern.Load() {
		return false
	}
	s := p.sess.Load()
	return s != nil && !s.ended.Load()
}

// lobbyBroker wraps the Hub's Broker so that lobby messages published by
// other nodes reach this node's clients of code 8 too (the Hub delivers
// them to its subscribers only).
type lobbyBroker struct {
	app  *App
	next channels.Broker
}

func (b *lobbyBroker) Bind(r channels.Receiver) { b.next.Bind(lobbyReceiver{b.app, r}) }

func (b *lobbyBroker) Publish(m *channels.Message) error { return b.next.Publish(m) }

type lobbyReceiver struct {
	app  *App
	next channels.Receiver
}

func (r lobbyReceiver) Receive(m *channels.Message) {
	r.next.Receive(m)
	if m.Kind == channels.KindPublication && m.Channel == r.app.lobby.String() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.app.toLegacy(ctx, m.From, "", m.Data, m.Time)
		cancel()
	}
}

// LobbyHistory returns the lobby's recent messages, oldest first: its
// history's publications that are lobby messages (none if the lobby's
// namespace keeps no history).
func (a *App) LobbyHistory(ctx context.Context) ([]Message, error) {
	ns, err := a.hub.Namespace(a.lobby)
	if err != nil || ns.HistorySize == 0 {
		return nil, err
	}
	pubs, _, err := a.hub.History(ctx, a.lobby, channels.Query{Limit: ns.HistorySize, Newest: true})
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(pubs))
	for _, p := range pubs {
		var d struct {
			Text *string `json:"text"`
		}
		if json.Unmarshal(p.Data, &d) != nil || d.Text == nil {
			continue
		}
		out = append(out, Message{From: a.Name(ctx, p.From), Text: *d.Text, TS: p.Time})
	}
	return out, nil
}

// names caches display names by user ID: usernames of the accounts that
// logged in or were looked up, and the names of JWT logins.
type names struct {
	mu sync.Mutex        // guards m
	m  map[string]string // user ID -> name; "" for an ID known not to be an account
}

// maxNames bounds the cache; it starts over when full.
const maxNames = 100_000

func (n *names) remember(id, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.m) >= maxNames {
		clear(n.m)
	}
	n.m[id] = name
}

func (n *names) get(id string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	name, ok := n.m[id]
	return name, ok
}

// ServerName is the name shown for what the application's backend
// published (a publication without a user).
const ServerName = "server"

// Name returns the display name of user ID id: the account's username,
// a JWT login's name, or the ID itself for a user this process does not
// know. The empty ID (the backend) is ServerName.
func (a *App) Name(ctx context.Context, id string) string {
	if id == "" {
		return ServerName
	}
	if name, ok := a.names.get(id); ok {
		if name == "" {
			return id
		}
		return name
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		a.names.remember(id, "")
		return id
	}
	u, err := a.acc.Store().UserByID(ctx, n)
	if err != nil {
		// Not an account (a JWT user), or the database failed: the ID
		// serves; only a definite miss is remembered.
		if errors.Is(err, accounts.ErrNotFound) {
			a.names.remember(id, "")
		}
		return id
	}
	a.names.remember(id, u.Username)
	return u.Username
}

// MaxNames bounds the IDs of one Names call.
const MaxNames = 200

// Names returns the display names of ids (at most MaxNames of them; the
// rest are left out), for clients that show publications and presence.
func (a *App) Names(ctx context.Context, ids []string) map[string]string {
	out := make(map[string]string, min(len(ids), MaxNames))
	for i, id := range ids {
		if i == MaxNames {
			break
		}
		out[id] = a.Name(ctx, id)
	}
	return out
}
