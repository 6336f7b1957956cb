package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
	"wharf/chat"
	"wharf/client"
	"wharf/httpd"
	"wharf/internal/testkit"
	"wharf/packet"
	"wharf/server"
	"wharf/websocket"
)

// startChat serves the chat application on loopback ports and returns its
// tcp:// address and its ws:// URL (the packet protocol over WebSocket at
// /ws, as wharfd serves it).
func startChat(t *testing.T) (tcpAddr, wsURL string) {
	t.Helper()
	store, err := accounts.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "chat.db"), accounts.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := chat.New(svc, chat.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rt := server.NewRouter()
	app.Routes(rt)
	srv, err := server.New(server.Config{Logger: quiet, StatsInterval: -1}, rt)
	if err != nil {
		t.Fatal(err)
	}
	app.Attach(srv)
	a, err := srv.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ws, err := websocket.NewStreamServer(websocket.Config{Subprotocols: []string{packet.WebSocketSubprotocol}, RequireSubprotocol: true}, srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	hs, err := httpd.New(httpd.Config{Native: ws, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ha, err := hs.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	return "tcp://" + a.String(), "ws://" + ha.String() + "/ws"
}

// output is what run printed, safe to read while it prints.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) has(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Contains(o.b.String(), s)
}

// TestSession: the client of the README's tour registers, joins the room,
// sees what another user publishes there and what they send directly,
// publishes its input lines, answers /who, and ends on /quit, over TCP and
// over WebSocket (bob, with the library, stays on TCP).
func TestSession(t *testing.T) {
	for _, transport := range []string{"tcp", "ws"} {
		t.Run(transport, func(t *testing.T) {
			tcpAddr, wsURL := startChat(t)
			aliceAddr := tcpAddr
			if transport == "ws" {
				aliceAddr = wsURL
			}
			testSession(t, tcpAddr, aliceAddr)
		})
	}
}

func testSession(t *testing.T, addr, aliceAddr string) {
	ctx := t.Context()

	// bob, with the library, is already in the room.
	bobPushes := make(chan client.Publication, 16)
	bobDirects := make(chan client.Direct, 16)
	bob, err := client.Dial(ctx, addr, client.Config{OnPush: func(code uint16, body []byte) {
		var p client.Publication
		var d client.Direct
		switch {
		case code == client.CodePublication && client.DecodePush(body, &p) == nil:
			bobPushes <- p
		case code == client.CodeDirect && client.DecodePush(body, &d) == nil:
			bobDirects <- d
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Register(ctx, "bob", "battery staple"); err != nil {
		t.Fatal(err)
	}
	bobID, _, err := bob.Login(ctx, "bob", "battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Subscribe(ctx, "room:lobby", client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.Publish(ctx, "room:lobby", json.RawMessage(`{"text":"before you came"}`)); err != nil {
		t.Fatal(err)
	}

	in, typed := io.Pipe()
	out := &output{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{addr: aliceAddr, user: "alice", password: "correct horse", register: true, room: "room:lobby"}, in, out)
	}()
	testkit.Eventually(t, "alice logged in with the room's history", func() bool {
		return out.has("logged in as alice") && out.has("before you came")
	})

	if _, _, err := bob.Publish(ctx, "room:lobby", json.RawMessage(`{"text":"hi alice"}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "alice sees bob's publication", func() bool { return out.has("hi alice") })
	for range 2 { // bob's own two publications come back to him first
		<-bobPushes
	}

	io.WriteString(typed, "hello bob\n")
	select {
	case p := <-bobPushes:
		if !strings.Contains(string(p.Data), "hello bob") {
			t.Fatalf("bob got %s, want alice's line", p.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob never got alice's line")
	}

	io.WriteString(typed, "/who\n")
	testkit.Eventually(t, "/who lists both", func() bool { return out.has("in room:lobby: user ") && out.has("user "+itoa(bobID)) })

	io.WriteString(typed, "/dm "+itoa(bobID)+" psst\n")
	select {
	case d := <-bobDirects:
		if string(d.Data) != `{"text":"psst"}` || d.From == "" || d.From == itoa(bobID) {
			t.Fatalf("bob's direct message: %+v, want alice's psst", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob never got alice's direct message")
	}
	// bob answers directly: alice's terminal shows it.
	if err := bob.SendDirect(ctx, aliceID(t, out), json.RawMessage(`{"text":"got it"}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "alice sees bob's direct message", func() bool { return out.has("[direct from user " + itoa(bobID) + "] got it") })
	io.WriteString(typed, "/nonsense\n")
	testkit.Eventually(t, "an unknown command is named", func() bool { return out.has(`unknown command "/nonsense"`) })

	io.WriteString(typed, "/quit\n")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run ended with %v after /quit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end after /quit")
	}
}

// aliceID is alice's user ID, from her "logged in as" line.
func aliceID(t *testing.T, out *output) string {
	out.mu.Lock()
	defer out.mu.Unlock()
	_, rest, ok := strings.Cut(out.b.String(), "logged in as alice (user ")
	id, _, ok2 := strings.Cut(rest, ")")
	if !ok || !ok2 {
		t.Fatalf("no user ID in %q", out.b.String())
	}
	return id
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
