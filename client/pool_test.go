package client

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"wharf/server"
)

func TestPool(t *testing.T) {
	t.Run("round-robin over one server", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		p, err := NewPool(ctxTimeout(t, 5*time.Second), PoolConfig{Addrs: []string{ts.addr}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		eventually(t, "4 connections", func() bool { return ts.srv.Online() == 4 })
		perConn := map[string]int{}
		ctx := ctxTimeout(t, 10*time.Second)
		for range 40 {
			id, err := p.Request(ctx, codeConnID, nil)
			if err != nil {
				t.Fatal(err)
			}
			perConn[string(id)]++
		}
		if counts := slices.Collect(maps.Values(perConn)); len(counts) != 4 || slices.Max(counts) != 10 || slices.Min(counts) != 10 {
			t.Fatalf("requests per connection %v, want 10 on each of 4", perConn)
		}
		if st := p.Stats(); st.Replies != 40 {
			t.Fatalf("Stats.Replies = %d, want 40", st.Replies)
		}
	})
	t.Run("two servers", func(t *testing.T) {
		a := startServer(t, server.Config{}, "")
		b := startServer(t, server.Config{}, "")
		p, err := NewPool(ctxTimeout(t, 5*time.Second), PoolConfig{Addrs: []string{a.addr, b.addr}, Size: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx := ctxTimeout(t, 10*time.Second)
		for range 40 {
			if _, err := p.Request(ctx, codeEcho, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if a.srv.Online() != 2 || b.srv.Online() != 2 || a.handled.Load() != 20 || b.handled.Load() != 20 {
			t.Fatalf("online %d/%d, handled %d/%d; want 2/2 and 20/20", a.srv.Online(), b.srv.Online(), a.handled.Load(), b.handled.Load())
		}
	})
	t.Run("skips a dead connection", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		p, err := NewPool(ctxTimeout(t, 5*time.Second), PoolConfig{Addrs: []string{ts.addr}, Size: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Clients()[1].Close()
		ctx := ctxTimeout(t, 10*time.Second)
		for range 30 {
			if _, err := p.Request(ctx, codeEcho, []byte("x")); err != nil {
				t.Fatalf("request with one connection down: %v", err)
			}
		}
	})
	t.Run("config errors", func(t *testing.T) {
		tests := []struct {
			name string
			cfg  PoolConfig
		}{
			{name: "no addrs", cfg: PoolConfig{}},
			{name: "size below addrs", cfg: PoolConfig{Addrs: []string{"a:1", "b:1"}, Size: 1}},
			{name: "bad client config", cfg: PoolConfig{Addrs: []string{"a:1"}, Config: Config{MaxPacket: 1}}},
		}
		for _, tt := range tests {
			if _, err := NewPool(ctxTimeout(t, 5*time.Second), tt.cfg); err == nil {
				t.Errorf("%s: NewPool succeeded", tt.name)
			}
		}
	})
	t.Run("a failed dial closes the others", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		_, err := NewPool(ctxTimeout(t, 5*time.Second), PoolConfig{Addrs: []string{ts.addr, freeAddr(t)}})
		var de *DialError
		if !errors.As(err, &de) {
			t.Fatalf("NewPool = %v, want a DialError", err)
		}
		eventually(t, "the good connections to close", func() bool { return ts.srv.Online() == 0 })
	})
}
