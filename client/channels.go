package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The demo application's channel codes (packet/SPEC.md §8).
const (
	CodeSubscribe    uint16 = 9  // {"channel","join_leave","recover","offset","epoch"} -> {"ok","channel","offset","epoch","recovered"}
	CodeUnsubscribe  uint16 = 10 // {"channel"} -> {"ok","channel"}
	CodePublish      uint16 = 11 // {"channel","data"} -> {"ok","channel","offset","epoch"}
	CodePublication  uint16 = 12 // server push: a Publication
	CodeJoin         uint16 = 13 // server push: {"channel","user"}
	CodeLeave        uint16 = 14 // server push: {"channel","user"}
	CodePresence     uint16 = 15 // {"channel"} -> {"ok","channel","members","truncated"}
	CodeHistory      uint16 = 16 // {"channel","limit","after"} -> {"ok","channel","offset","epoch","publications","more"}
	CodeSendDirect   uint16 = 17 // {"user","data"} -> {"ok"}
	CodeDirect       uint16 = 18 // server push: a Direct
	CodeSessionEnded uint16 = 19 // server push: {"reason": "expired" | "logged_out"}
)

// The channel pushes (CodePublication, CodeJoin, CodeLeave, CodeDirect,
// CodeSessionEnded) reach Config.OnPush without being in PushCodes: no
// request ever has their codes.

// Publication is a CodePublication push, or one entry of a History.
type Publication struct {
	Channel string          `json:"channel,omitempty"` // absent in History entries
	Offset  uint64          `json:"offset,omitempty"`  // 0 in a namespace without history
	Epoch   string          `json:"epoch,omitempty"`
	From    string          `json:"from,omitempty"` // "" for the application's backend
	TS      int64           `json:"ts"`             // Unix milliseconds
	Data    json.RawMessage `json:"data"`
}

// Direct is a CodeDirect push: a direct message to this connection's user.
type Direct struct {
	From string          `json:"from,omitempty"`
	TS   int64           `json:"ts"`
	Data json.RawMessage `json:"data"`
}

// Presence is a CodeJoin or CodeLeave push.
type Presence struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
}

// Member is a user present in a channel, with its connections there.
type Member struct {
	User  string `json:"user"`
	Conns int    `json:"conns"`
}

// DecodePush decodes the body of a channel push (from OnPush) into v: a
// *Publication, *Direct or *Presence.
func DecodePush(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("client: bad push: %w", err)
	}
	return nil
}

// SubscribeOptions tunes Subscribe.
type SubscribeOptions struct {
	JoinLeave bool   // ask for CodeJoin and CodeLeave pushes
	Recover   bool   // ask for what was missed since Offset and Epoch
	Offset    uint64 // the last publication seen (with Recover)
	Epoch     string
}

// SubscribeResult is a subscription's outcome: the channel's position, and
// with Recover whether every missed publication was pushed (they arrive
// before the reply). Recovered false means: resync (History).
type SubscribeResult struct {
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Recovered bool   `json:"recovered"`
}

// chanReply is the reply of the channel codes.
type chanReply struct {
	OK        bool          `json:"ok"`
	Offset    uint64        `json:"offset"`
	Epoch     string        `json:"epoch"`
	Recovered bool          `json:"recovered"`
	Members   []Member      `json:"members"`
	Truncated bool          `json:"truncated"`
	Pubs      []Publication `json:"publications"`
	More      bool          `json:"more"`
	Reason    string        `json:"reason"`
	Error     string        `json:"error"`
}

// channel makes a channel request and turns {"ok": false} into a
// *ChannelError.
func (c *Client) channel(ctx context.Context, code uint16, target string, req any) (chanReply, error) {
	var r chanReply
	if err := c.RequestJSON(ctx, code, req, &r); err != nil {
		return r, err
	}
	if !r.OK {
		return r, &ChannelError{Code: code, Channel: target, Reason: r.Reason, Message: r.Error}
	}
	return r, nil
}

// Subscribe subscribes this connection to channel (code 9). Publications
// arrive as CodePublication pushes on OnPush; with o.Recover, the missed
// ones arrive before Subscribe returns. A refusal is a *ChannelError.
func (c *Client) Subscribe(ctx context.Context, channel string, o SubscribeOptions) (SubscribeResult, error) {
	r, err := c.channel(ctx, CodeSubscribe, channel, struct {
		Channel   string `json:"channel"`
		JoinLeave bool   `json:"join_leave,omitempty"`
		Recover   bool   `json:"recover,omitempty"`
		Offset    uint64 `json:"offset,omitempty"`
		Epoch     string `json:"epoch,omitempty"`
	}{channel, o.JoinLeave, o.Recover, o.Offset, o.Epoch})
	return SubscribeResult{Offset: r.Offset, Epoch: r.Epoch, Recovered: r.Recovered}, err
}

// Unsubscribe unsubscribes this connection from channel (code 10).
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	_, err := c.channel(ctx, CodeUnsubscribe, channel, struct {
		Channel string `json:"channel"`
	}{channel})
	return err
}

// Publish publishes data, JSON, to channel (code 11) and returns the
// publication's offset and epoch (zero without history).
func (c *Client) Publish(ctx context.Context, channel string, data json.RawMessage) (offset uint64, epoch string, err error) {
	r, err := c.channel(ctx, CodePublish, channel, struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}{channel, data})
	return r.Offset, r.Epoch, err
}

// SendDirect sends data, JSON, to every connection of user (code 17).
func (c *Client) SendDirect(ctx context.Context, user string, data json.RawMessage) error {
	_, err := c.channel(ctx, CodeSendDirect, user, struct {
		User string          `json:"user"`
		Data json.RawMessage `json:"data"`
	}{user, data})
	return err
}

// Presence returns channel's members (code 15); truncated says the list
// was cut to fit a packet.
func (c *Client) Presence(ctx context.Context, channel string) (members []Member, truncated bool, err error) {
	r, err := c.channel(ctx, CodePresence, channel, struct {
		Channel string `json:"channel"`
	}{channel})
	return r.Members, r.Truncated, err
}

// History returns channel's publications (code 16): the newest limit, or
// with after the oldest limit after that offset; more says there are more
// (ask again after the last offset). offset and epoch are the channel's
// newest position.
func (c *Client) History(ctx context.Context, channel string, limit int, after *uint64) (pubs []Publication, offset uint64, epoch string, more bool, err error) {
	r, err := c.channel(ctx, CodeHistory, channel, struct {
		Channel string  `json:"channel"`
		Limit   int     `json:"limit,omitempty"`
		After   *uint64 `json:"after,omitempty"`
	}{channel, limit, after})
	return r.Pubs, r.Offset, r.Epoch, r.More, err
}

// Session is a login's outcome.
type Session struct {
	UserID   int64     // the account's ID; 0 for a JWT login
	User     string    // the user ID in channels
	Name     string    // the display name
	Token    string    // a password login's session token
	Expires  time.Time // when the login ends (a CodeSessionEnded push says so)
	Channels []string  // channels a JWT's claim subscribed
}

// LoginToken logs this connection in with a token (code 6 {"token"}): the
// session token of a login on any transport (the web app's cookie), or a
// JWT from the application's backend.
func (c *Client) LoginToken(ctx context.Context, token string) (Session, error) {
	var r struct {
		appReply
		User     string   `json:"user"`
		Name     string   `json:"name"`
		Expires  int64    `json:"expires"`
		Channels []string `json:"channels"`
	}
	if err := c.RequestJSON(ctx, CodeLogin, struct {
		Token string `json:"token"`
	}{token}, &r); err != nil {
		return Session{}, err
	}
	if !r.OK {
		return Session{}, &AppError{Code: CodeLogin, Message: r.Error}
	}
	return Session{UserID: r.UserID, User: r.User, Name: r.Name, Expires: time.UnixMilli(r.Expires), Channels: r.Channels}, nil
}
