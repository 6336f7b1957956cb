package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"wharf/channels"
	"wharf/chat"
	"wharf/jwtauth"
	"wharf/web"
)

const (
	fanoutKey    = "fanout-test-push-key-0123456789"
	fanoutSecret = "fanout test secret, at least 32 bytes"
)

// startFanoutServer runs the chat application with the namespaces a
// fanout run needs: "bench" (anyone subscribes and publishes, history for
// gap counting) and "room" for users (JWT logins), with limits a load
// test does not trip; and the push API on an httptest server.
func startFanoutServer(t *testing.T) (addr, pushURL string) {
	t.Helper()
	app, addr := startChatApp(t, chat.Config{
		PublishRate: 1e6, PublishBurst: 1e6, PublishPerIPRate: 1e6, PublishPerIPBurst: 1e6,
		JWT: mustVerifier(t),
		Channels: channels.Config{Namespaces: []channels.Namespace{
			{Name: "bench", Subscribe: channels.AccessAnyone, Publish: channels.AccessAnyone, HistorySize: 10},
			{Name: "room"},
		}},
	})
	push, err := web.NewPushAPI(web.PushConfig{App: app, Keys: []string{fanoutKey}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(push)
	t.Cleanup(hs.Close)
	return addr, hs.URL
}

func mustVerifier(t *testing.T) *jwtauth.Verifier {
	v, err := jwtauth.New(jwtauth.Config{HMACSecret: []byte(fanoutSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFanout: every publication reaches every subscriber of its channel,
// with a latency per delivery, through code 11 and through the push API,
// anonymously and with JWT logins.
func TestFanout(t *testing.T) {
	addr, pushURL := startFanoutServer(t)
	tests := []struct {
		name string
		args []string
	}{
		{"packet", []string{"-channels", "3", "-k", "2"}},
		{"push API", []string{"-channels", "2", "-push-url", pushURL, "-push-key", fanoutKey}},
		{"users by JWT", []string{"-prefix", "room:f", "-jwt-secret", fanoutSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"fanout", "-addr", addr, "-c", "20", "-rate", "500", "-n", "60", "-d", "20s", "-s", "100"}, tt.args...)
			res, code, stderr := runJSON(t, args...)
			checkClean(t, res, code, stderr)
			f := res.Fanout
			if f == nil || f.Publications != 60 || f.Expected == 0 || f.Delivered != f.Expected || f.Lost != 0 || f.Duplicates != 0 || f.Gaps != 0 {
				t.Fatalf("fanout = %+v\n%s", f, stderr)
			}
			if res.Requests != f.Delivered {
				t.Errorf("requests %d, deliveries %d", res.Requests, f.Delivered)
			}
		})
	}
	// 20 connections × 2 of 3 channels: 40 subscriptions; 60 publications
	// round robin reach 40/3 subscribers each on average.
	res, _, _ := runJSON(t, "fanout", "-addr", addr, "-c", "20", "-channels", "3", "-k", "2", "-rate", "1000", "-n", "60", "-d", "20s")
	if f := res.Fanout; f.Subscribers != 40 || f.Expected != 20*40 {
		t.Fatalf("subscriptions %d, expected %d; want 40 and 800", f.Subscribers, f.Expected)
	}
}

// TestFanoutRefused: a run whose subscriptions are all refused (a
// namespace the server does not know) stops with a usage error saying so.
func TestFanoutRefused(t *testing.T) {
	addr, _ := startFanoutServer(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"fanout", "-addr", addr, "-c", "2", "-prefix", "nope:", "-rate", "100", "-n", "5", "-d", "5s"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "no subscriber could subscribe") || !strings.Contains(errb.String(), "unknown_namespace") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
