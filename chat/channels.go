package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"wharf/channels"
	"wharf/iplimit"
	"wharf/packet"
	"wharf/server"
)

// This file is codes 9 to 19 (packet/SPEC.md section 8): the requests and
// replies as types, the operations behind them, which the web app calls
// too with the same bodies, and the packet handlers.

// SubscribeRequest is the body of code 9.
type SubscribeRequest struct {
	Channel   string `json:"channel"`
	JoinLeave bool   `json:"join_leave"`
	Recover   bool   `json:"recover"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
}

// ChannelRequest is the body of codes 10 (unsubscribe) and 15 (presence).
type ChannelRequest struct {
	Channel string `json:"channel"`
}

// PublishRequest is the body of code 11.
type PublishRequest struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// HistoryRequest is the body of code 16. Without After, the newest Limit
// publications; with it, the oldest Limit after that offset.
type HistoryRequest struct {
	Channel string  `json:"channel"`
	Limit   int     `json:"limit"`
	After   *uint64 `json:"after"`
}

// DirectRequest is the body of code 17.
type DirectRequest struct {
	User string          `json:"user"`
	Data json.RawMessage `json:"data"`
}

// ChannelReply is the reply of codes 9, 10, 11 and 17: {"ok": true, ...}
// or {"ok": false, "reason": "<token>", "error": "<text>"} with the
// channel or user of the request.
type ChannelReply struct {
	OK        bool   `json:"ok"`
	Channel   string `json:"channel,omitempty"`
	User      string `json:"user,omitempty"`
	Offset    uint64 `json:"offset,omitempty"`
	Epoch     string `json:"epoch,omitempty"`
	Recovered *bool  `json:"recovered,omitempty"` // present when the subscription asked to recover
	// Delivered counts this node's connections a publication reached (the
	// push API reports it; the packet protocol leaves it out).
	Delivered *int   `json:"delivered,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
}

// PresenceReply is the reply of code 15.
type PresenceReply struct {
	OK        bool              `json:"ok"`
	Channel   string            `json:"channel"`
	Members   []channels.Member `json:"members,omitempty"`
	Truncated bool              `json:"truncated,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// HistoryReply is the reply of code 16.
type HistoryReply struct {
	OK           bool          `json:"ok"`
	Channel      string        `json:"channel"`
	Offset       uint64        `json:"offset,omitempty"`
	Epoch        string        `json:"epoch,omitempty"`
	Publications []Publication `json:"publications,omitempty"`
	More         bool          `json:"more,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Error        string        `json:"error,omitempty"`
}

// Publication is one publication of a HistoryReply: the body of a code 12
// push without its channel.
type Publication struct {
	Offset uint64          `json:"offset,omitempty"`
	Epoch  string          `json:"epoch,omitempty"`
	From   string          `json:"from,omitempty"`
	TS     int64           `json:"ts"`
	Data   json.RawMessage `json:"data"`
}

// replyBudget is the most a reply body may take: what fits the default
// packet size, which every client accepts. Presence and history replies
// are cut to it.
const replyBudget = packet.DefaultMaxPacket - packet.HeaderSize - 64

// Actor is who makes a request: a user (User, the ID in channels, and
// Name, its display name) or anonymous (User ""), from the source address
// Src (the zero Key for none, which rate limits ignore).
type Actor struct {
	User string
	Name string
	Src  iplimit.Key
}

// reasons map channels' errors to the reasons of packet/SPEC.md 8.3.
var reasons = []struct {
	err    error
	reason string
}{
	{channels.ErrInvalidName, "invalid_name"},
	{channels.ErrUnknownNamespace, "unknown_namespace"},
	{channels.ErrPermissionDenied, "permission_denied"},
	{channels.ErrAlreadySubscribed, "already_subscribed"},
	{channels.ErrNotSubscribed, "not_subscribed"},
	{channels.ErrChannelFull, "channel_full"},
	{channels.ErrTooManyChannels, "too_many_channels"},
	{channels.ErrDataTooLarge, "too_large"},
	{channels.ErrNoHistory, "no_history"},
	{channels.ErrNoPresence, "no_presence"},
	{channels.ErrNoJoinLeave, "no_join_leave"},
	{channels.ErrBadUser, "bad_user"},
	{channels.ErrHistory, "unavailable"},
	{channels.ErrClientClosed, "unavailable"},
	{context.DeadlineExceeded, "unavailable"},
	{ErrBadData, "bad_data"},
}

// Reason returns the reason token of a channels error (packet/SPEC.md
// 8.3) and the text shown with it, or ok false for an error that is not
// the client's to know (an internal error, which the caller logs).
func Reason(err error) (reason, text string, ok bool) {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			text = err.Error()
			switch {
			case r.reason == "unavailable":
				text = "temporarily unavailable, retry later"
			case strings.HasPrefix(text, "channels: "), strings.HasPrefix(text, "chat: "):
				text = text[strings.Index(text, ": ")+2:]
			}
			return r.reason, text, true
		}
	}
	return "", "", false
}

// failure fills a refusal's reason and error, logging an internal error.
func (a *App) failure(what string, err error) (reason, text string) {
	reason, text, ok := Reason(err)
	if !ok {
		a.cfg.Logger.Error("chat: "+what, "err", err)
		return "internal", "internal error"
	}
	return reason, text
}

// Subscribe subscribes c to req.Channel, recovering what it missed if
// asked: the recovered publications reach c's Subscriber before Subscribe
// returns.
func (a *App) Subscribe(ctx context.Context, c *channels.Client, req SubscribeRequest) ChannelReply {
	rep := ChannelReply{Channel: req.Channel}
	name, err := channels.ParseName(req.Channel)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		var res channels.SubscribeResult
		res, err = c.Subscribe(ctx, name, channels.SubscribeOptions{
			JoinLeave: req.JoinLeave,
			Recover:   req.Recover,
			Since:     channels.Position{Offset: req.Offset, Epoch: req.Epoch},
		})
		if err == nil {
			rep.OK, rep.Offset, rep.Epoch = true, res.Position.Offset, res.Position.Epoch
			if req.Recover {
				rep.Recovered = &res.Recovered
			}
			return rep
		}
	}
	rep.Reason, rep.Error = a.failure("subscribe", err)
	return rep
}

// Unsubscribe unsubscribes c from req.Channel.
func (a *App) Unsubscribe(c *channels.Client, req ChannelRequest) ChannelReply {
	rep := ChannelReply{Channel: req.Channel}
	name, err := channels.ParseName(req.Channel)
	if err == nil {
		if err = c.Unsubscribe(name); err == nil {
			rep.OK = true
			return rep
		}
	}
	rep.Reason, rep.Error = a.failure("unsubscribe", err)
	return rep
}

// PublishAs publishes req.Data to req.Channel as who, under the
// namespace's rules and the publish limits: a *RateLimitError is returned
// as an error (code 1 with retry_after, HTTP 429); every other refusal is
// in the reply.
func (a *App) PublishAs(ctx context.Context, who Actor, req PublishRequest) (ChannelReply, error) {
	rep := ChannelReply{Channel: req.Channel}
	name, err := channels.ParseName(req.Channel)
	if err == nil {
		err = a.hub.CanPublish(who.User, name)
	}
	if err == nil {
		if err := a.allowPublish(who, int64(a.hub.Subscribers(name))+a.legacyFanout(name)); err != nil {
			return rep, err
		}
		var res channels.PublishResult
		if res, err = a.publish(ctx, who, name, req.Data); err == nil {
			rep.OK, rep.Offset, rep.Epoch, rep.Delivered = true, res.Position.Offset, res.Position.Epoch, &res.Delivered
			return rep, nil
		}
	}
	rep.Reason, rep.Error = a.failure("publish", err)
	return rep, nil
}

// SendDirectAs sends req.Data to every connection of req.User from who,
// under Config.Channels.DirectMessages and the publish limits (returned as
// a *RateLimitError).
func (a *App) SendDirectAs(ctx context.Context, who Actor, req DirectRequest) (ChannelReply, error) {
	rep := ChannelReply{User: req.User}
	if err := a.allowPublish(who, 1); err != nil {
		return rep, err
	}
	data, err := compact(req.Data)
	var n int
	if err == nil {
		n, err = a.hub.SendToUserAs(who.User, req.User, data)
	}
	if err != nil {
		rep.Reason, rep.Error = a.failure("send direct", err)
		return rep, nil
	}
	rep.OK, rep.Delivered = true, &n
	return rep, nil
}

// Presence answers who is in req.Channel, if who may subscribe to it,
// cut to what fits one packet.
func (a *App) Presence(ctx context.Context, who Actor, req ChannelRequest) PresenceReply {
	rep := PresenceReply{Channel: req.Channel}
	name, err := channels.ParseName(req.Channel)
	if err == nil {
		err = a.hub.CanSubscribe(who.User, name)
	}
	var members []channels.Member
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		members, err = a.hub.Presence(ctx, name)
	}
	if err != nil {
		rep.Reason, rep.Error = a.failure("presence", err)
		return rep
	}
	rep.OK = true
	size := len(req.Channel) + 64
	for i, m := range members {
		if size += len(m.User) + 32; size > replyBudget {
			members, rep.Truncated = members[:i], true
			break
		}
	}
	rep.Members = members
	return rep
}

// History answers publications of req.Channel, if who may subscribe to
// it, cut to what fits one packet (More says so).
func (a *App) History(ctx context.Context, who Actor, req HistoryRequest) HistoryReply {
	rep := HistoryReply{Channel: req.Channel}
	name, err := channels.ParseName(req.Channel)
	if err == nil {
		err = a.hub.CanSubscribe(who.User, name)
	}
	var (
		msgs []channels.Message
		pos  channels.Position
	)
	if err == nil {
		q := channels.Query{Limit: req.Limit, Newest: req.After == nil}
		if req.After != nil {
			q.After = *req.After
		}
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		msgs, pos, err = a.hub.History(ctx, name, q)
	}
	if err != nil {
		rep.Reason, rep.Error = a.failure("history", err)
		return rep
	}
	rep.OK, rep.Offset, rep.Epoch = true, pos.Offset, pos.Epoch
	size := len(req.Channel) + len(pos.Epoch) + 96
	for i, m := range msgs {
		if size += len(m.Data) + len(m.Epoch) + len(m.From) + 80; size > replyBudget {
			rep.More = true
			msgs = msgs[:i]
			break
		}
	}
	rep.Publications = make([]Publication, len(msgs))
	for i, m := range msgs {
		rep.Publications[i] = Publication{Offset: m.Offset, Epoch: m.Epoch, From: m.From, TS: m.Time, Data: m.Data}
	}
	return rep
}

// Publish publishes data to ch as the application's backend (the push
// API): no namespace rule and no rate limit applies (the caller has its
// own), and lobby messages reach the clients of code 8 too.
func (a *App) Publish(ctx context.Context, ch channels.Name, data []byte) (channels.PublishResult, error) {
	return a.publish(ctx, Actor{}, ch, data)
}

// SendToUser sends data to every connection of user as the backend.
func (a *App) SendToUser(user string, data []byte) (int, error) {
	data, err := compact(data)
	if err != nil {
		return 0, err
	}
	return a.hub.SendToUser(user, data)
}

// compact returns data, JSON, without its insignificant white space (so it
// is one line, which the web app's event streams need), or "null" for no
// data. It fails with ErrBadData for data that is not JSON.
func compact(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.Grow(len(data))
	if err := json.Compact(&b, data); err != nil {
		return nil, ErrBadData
	}
	return b.Bytes(), nil
}

// publish publishes data to ch from who (the backend when who.User is "",
// the rules checked by the caller) and pushes lobby messages to the
// clients of code 8.
func (a *App) publish(ctx context.Context, who Actor, ch channels.Name, data []byte) (channels.PublishResult, error) {
	data, err := compact(data)
	if err != nil {
		return channels.PublishResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var res channels.PublishResult
	if who.User == "" {
		res, err = a.hub.Publish(ctx, ch, data)
	} else {
		res, err = a.hub.PublishAs(ctx, who.User, ch, data)
	}
	if err == nil && ch == a.lobby {
		a.toLegacy(ctx, who.User, who.Name, data, a.cfg.Clock().UnixMilli())
	}
	return res, err
}

// legacyFanout is what a publication to ch costs beyond its subscribers:
// for the lobby, the connections it may reach with code 8.
func (a *App) legacyFanout(ch channels.Name) int64 {
	if ch == a.lobby {
		return a.online()
	}
	return 0
}

// allowPublish applies the publish limits to who, for a message that
// reaches fanout connections.
func (a *App) allowPublish(who Actor, fanout int64) error {
	if who.User != "" {
		if ok, retry := a.pubUser.AllowN(who.User, 1); !ok {
			return a.refuse(limitPublishUser, retry)
		}
	}
	if who.Src.IsValid() {
		if ok, retry := a.pubIP.AllowN(who.Src, 1); !ok {
			return a.refuse(limitPublishIP, retry)
		}
	}
	return a.takeFanout(fanout)
}

// The packet handlers.

func (a *App) handleSubscribe(r *server.Request) {
	var req SubscribeRequest
	if !decode(r, &req) {
		return
	}
	p := a.peerOf(r.Conn)
	c, err := p.hubClient()
	if err != nil {
		r.ReplyJSON(ChannelReply{Channel: req.Channel, Reason: "unavailable", Error: "connection closing"})
		return
	}
	rep := a.Subscribe(r.Context(), c, req)
	if rep.OK {
		p.modern.Store(true)
	}
	r.ReplyJSON(rep)
}

func (a *App) handleUnsubscribe(r *server.Request) {
	var req ChannelRequest
	if !decode(r, &req) {
		return
	}
	c, err := a.peerOf(r.Conn).hubClient()
	if err != nil {
		r.ReplyJSON(ChannelReply{Channel: req.Channel, Reason: "unavailable", Error: "connection closing"})
		return
	}
	r.ReplyJSON(a.Unsubscribe(c, req))
}

func (a *App) handlePublish(r *server.Request) {
	var req PublishRequest
	if !decode(r, &req) {
		return
	}
	if len(req.Data) == 0 {
		r.Error("malformed JSON: no data")
		return
	}
	rep, err := a.PublishAs(r.Context(), a.peerOf(r.Conn).actor(), req)
	if err != nil {
		a.fail(r, "publish", err)
		return
	}
	rep.Delivered = nil
	r.ReplyJSON(rep)
}

func (a *App) handleSendDirect(r *server.Request) {
	var req DirectRequest
	if !decode(r, &req) {
		return
	}
	if len(req.Data) == 0 {
		r.Error("malformed JSON: no data")
		return
	}
	rep, err := a.SendDirectAs(r.Context(), a.peerOf(r.Conn).actor(), req)
	if err != nil {
		a.fail(r, "send direct", err)
		return
	}
	rep.Delivered, rep.User = nil, ""
	if !rep.OK {
		rep.User = req.User
	}
	r.ReplyJSON(rep)
}

func (a *App) handlePresence(r *server.Request) {
	var req ChannelRequest
	if !decode(r, &req) {
		return
	}
	r.ReplyJSON(a.Presence(r.Context(), a.peerOf(r.Conn).actor(), req))
}

func (a *App) handleHistory(r *server.Request) {
	var req HistoryRequest
	if !decode(r, &req) {
		return
	}
	r.ReplyJSON(a.History(r.Context(), a.peerOf(r.Conn).actor(), req))
}
