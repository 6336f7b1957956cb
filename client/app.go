package client

import (
	"context"
	"encoding/json"
	"fmt"
)

// The demo application's codes (SPEC §2; packet/SPEC.md §6).
const (
	CodeRegister uint16 = 5 // {"username","password"} -> {"ok","user_id"}
	CodeLogin    uint16 = 6 // {"username","password"} -> {"ok","user_id","token"}
	CodeSay      uint16 = 7 // {"text"} -> {"ok"}; needs a login on the connection
	CodeMessage  uint16 = 8 // server push: {"from","text","ts"}
)

// Message is the demo application's chat message, pushed with CodeMessage to
// every logged-in connection after a successful say.
type Message struct {
	From string `json:"from"` // the sender's username
	Text string `json:"text"`
	TS   int64  `json:"ts"` // server time, milliseconds since the Unix epoch
}

// DecodeMessage decodes the body of a CodeMessage push (from OnPush).
func DecodeMessage(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("client: bad message push: %w", err)
	}
	return m, nil
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sayRequest struct {
	Text string `json:"text"`
}

// appReply is the demo application's reply shape; unknown fields are
// ignored, as the protocol asks.
type appReply struct {
	OK     bool   `json:"ok"`
	UserID int64  `json:"user_id"`
	Token  string `json:"token"`
	Error  string `json:"error"`
}

// app makes a demo-application request and turns {"ok": false} into an
// *AppError.
func (c *Client) app(ctx context.Context, code uint16, req any) (appReply, error) {
	var r appReply
	if err := c.RequestJSON(ctx, code, req, &r); err != nil {
		return r, err
	}
	if !r.OK {
		msg := r.Error
		if msg == "" {
			msg = "refused without a reason"
		}
		return r, &AppError{Code: code, Message: msg}
	}
	return r, nil
}

// Register creates an account (code 5) and returns its user ID. A refusal
// (a taken or invalid username, a bad password) is an *AppError. The
// password crosses the network in clear unless the transport is encrypted.
func (c *Client) Register(ctx context.Context, username, password string) (userID int64, err error) {
	r, err := c.app(ctx, CodeRegister, credentials{username, password})
	return r.UserID, err
}

// Login logs this connection in (code 6) and returns the user ID and a
// session token. A refusal is an *AppError. The login belongs to the
// connection: after a reconnection, log in again (OnState tells when).
func (c *Client) Login(ctx context.Context, username, password string) (userID int64, token string, err error) {
	r, err := c.app(ctx, CodeLogin, credentials{username, password})
	return r.UserID, r.Token, err
}

// Say sends a chat message (code 7); the server pushes it (CodeMessage) to
// every logged-in connection, this one included. Without a login on this
// connection the server refuses with an *AppError.
func (c *Client) Say(ctx context.Context, text string) error {
	_, err := c.app(ctx, CodeSay, sayRequest{text})
	return err
}
