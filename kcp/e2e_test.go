package kcp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
	"wharf/chat"
	"wharf/client"
	"wharf/kcp"
	"wharf/kcp/lossy"
	"wharf/server"
)

// TestChatOverKCP runs the chat application end to end over KCP with the
// client package: two users register, log in and say something, and each
// receives the other's message; then the same through a lossy path.
func TestChatOverKCP(t *testing.T) {
	tests := []struct {
		name string
		path *lossy.Config // the clients' and the server's sends, nil: clean
	}{
		{"clean", nil},
		{"5% loss", &lossy.Config{Loss: 0.05, Reorder: 0.05, Duplicate: 0.02}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			store, err := accounts.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "chat.db"), accounts.StoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			svc, err := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
			if err != nil {
				t.Fatal(err)
			}
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
			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if tt.path != nil {
				p := *tt.path
				p.Seed = 10
				pc = lossy.Wrap(pc, p)
			}
			tr, err := kcp.Serve(pc, kcp.Config{Logger: quiet}, srv.Handler())
			if err != nil {
				t.Fatal(err)
			}
			srv.Attach(tr)
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}

			seed := uint64(20)
			dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
				if tt.path == nil {
					return kcp.Dial(ctx, addr, kcp.Config{})
				}
				cpc, err := net.ListenPacket("udp4", "127.0.0.1:0")
				if err != nil {
					return nil, err
				}
				p := *tt.path
				p.Seed = seed
				seed++
				return kcp.DialPacketConn(ctx, lossy.Wrap(cpc, p), tr.Addr(), kcp.Config{})
			}
			type user struct {
				name string
				c    *client.Client
				msgs chan client.Message
			}
			users := []*user{{name: "alice"}, {name: "bob"}}
			for _, u := range users {
				u.msgs = make(chan client.Message, 10)
				msgs := u.msgs
				u.c, err = client.Dial(ctx, "kcp://"+tr.Addr().String(), client.Config{
					Dialer: dialer,
					OnPush: func(code uint16, body []byte) {
						if code == client.CodeMessage {
							if m, err := client.DecodeMessage(body); err == nil {
								msgs <- m
							}
						}
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := u.c.Register(ctx, u.name, "secret-"+u.name); err != nil {
					t.Fatalf("register %s: %v", u.name, err)
				}
				if _, _, err := u.c.Login(ctx, u.name, "secret-"+u.name); err != nil {
					t.Fatalf("login %s: %v", u.name, err)
				}
			}
			for _, u := range users {
				if err := u.c.Say(ctx, "hello from "+u.name); err != nil {
					t.Fatalf("say %s: %v", u.name, err)
				}
			}
			for _, u := range users {
				got := map[string]string{}
				for len(got) < 2 {
					select {
					case m := <-u.msgs:
						got[m.From] = m.Text
					case <-time.After(10 * time.Second):
						t.Fatalf("%s got %v, want both messages", u.name, got)
					}
				}
				if got["alice"] != "hello from alice" || got["bob"] != "hello from bob" {
					t.Fatalf("%s got %v", u.name, got)
				}
			}
			if st := srv.Stats(); st.Transports["kcp"].Open != 2 {
				t.Fatalf("kcp sessions open: %d, want 2", st.Transports["kcp"].Open)
			}
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			for _, u := range users {
				u.c.Close()
			}
		})
	}
}
