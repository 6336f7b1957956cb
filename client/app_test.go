package client

import (
	"errors"
	"testing"
	"time"

	"wharf/server"
)

func TestDemoApp(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	type inbox chan Message
	onPush := func(in inbox) func(uint16, []byte) {
		return func(code uint16, body []byte) {
			if code != CodeMessage {
				return
			}
			m, err := DecodeMessage(body)
			if err != nil {
				t.Error(err)
				return
			}
			in <- m
		}
	}
	aliceIn, bobIn := make(inbox, 10), make(inbox, 10)
	alice := dial(t, ts.addr, Config{OnPush: onPush(aliceIn)})
	bob := dial(t, ts.addr, Config{OnPush: onPush(bobIn)})
	ctx := ctxTimeout(t, 10*time.Second)

	if id, err := alice.Register(ctx, "alice", "correct horse"); err != nil || id != 42 {
		t.Fatalf("Register = %d, %v", id, err)
	}
	refusals := []struct {
		name string
		call func() error
		want AppError
	}{
		{name: "taken username", call: func() error { _, err := alice.Register(ctx, "taken", "password1"); return err },
			want: AppError{Code: CodeRegister, Message: "username taken"}},
		{name: "say before login", call: func() error { return alice.Say(ctx, "hi") },
			want: AppError{Code: CodeSay, Message: "not logged in"}},
		{name: "wrong password", call: func() error { _, _, err := alice.Login(ctx, "alice", "wrong"); return err },
			want: AppError{Code: CodeLogin, Message: "wrong username or password"}},
	}
	for _, r := range refusals {
		var ae *AppError
		if err := r.call(); !errors.As(err, &ae) || *ae != r.want {
			t.Fatalf("%s: %v, want %+v", r.name, err, r.want)
		}
	}

	id, token, err := alice.Login(ctx, "alice", "correct horse")
	if err != nil || id != 42 || token != "tok-alice" {
		t.Fatalf("Login = %d, %q, %v", id, token, err)
	}
	if _, _, err := bob.Login(ctx, "bob", "hunter22"); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UnixMilli()
	if err := alice.Say(ctx, "hello, bob"); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]inbox{"alice": aliceIn, "bob": bobIn} {
		select {
		case m := <-in:
			if m.From != "alice" || m.Text != "hello, bob" || m.TS < before {
				t.Fatalf("%s got %+v", name, m)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s got no message", name)
		}
	}
}

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		body    string
		want    Message
		wantErr bool
	}{
		{body: `{"from":"alice","text":"hi","ts":1700000000000}`, want: Message{From: "alice", Text: "hi", TS: 1700000000000}},
		{body: `{"from":"bob","text":"","ts":1,"extra":true}`, want: Message{From: "bob", TS: 1}},
		{body: `not json`, wantErr: true},
		{body: ``, wantErr: true},
	}
	for _, tt := range tests {
		m, err := DecodeMessage([]byte(tt.body))
		if (err != nil) != tt.wantErr || m != tt.want {
			t.Errorf("DecodeMessage(%q) = %+v, %v", tt.body, m, err)
		}
	}
}
