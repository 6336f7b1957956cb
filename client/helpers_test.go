package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"wharf/internal/testkit"

	"wharf/packet"
	"wharf/server"
)

// Codes of the test application.
const (
	codeEcho   = 10 // reply with the body
	codeSlow   = 11 // body "DURATION|tag": wait, then reply "tag"; no reply if the server shuts down first
	codeHold   = 12 // announce on held, wait for release, reply "held"; no reply if the server shuts down first
	codePushes = 13 // body: count n; push n packets of code codeEcho2 ("push-0"...), then reply "done"
	codeConnID = 14 // reply with the server's connection ID
	codeEcho2  = 20 // a second echo code, also used for pushes
	codeNone   = 99 // not registered: the server answers with a code 1 error
)

// testServer is a real wharf server with the test application.
type testServer struct {
	srv     *server.Server
	addr    string        // host:port
	held    chan struct{} // codeHold announces itself
	release chan struct{} // closed to let codeHold reply
	handled atomic.Int64  // requests that reached a handler (pings do not)
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (ts *testServer) router() *server.Router {
	rt := server.NewRouter()
	count := func(f func(r *server.Request)) func(r *server.Request) {
		return func(r *server.Request) { ts.handled.Add(1); f(r) }
	}
	rt.HandleFunc(codeEcho, count(func(r *server.Request) { r.Reply(r.Body) }))
	rt.HandleFunc(codeEcho2, count(func(r *server.Request) { r.Reply(r.Body) }))
	rt.HandleFunc(codeSlow, count(func(r *server.Request) {
		d, tag, _ := strings.Cut(string(r.Body), "|")
		wait, err := time.ParseDuration(d)
		if err != nil {
			r.Error("bad duration")
			return
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
			r.Reply([]byte(tag))
		case <-r.Context().Done():
		}
	}))
	rt.HandleFunc(codeHold, count(func(r *server.Request) {
		ts.held <- struct{}{}
		select {
		case <-ts.release:
			r.Reply([]byte("held"))
		case <-r.Context().Done():
		}
	}))
	rt.HandleFunc(codePushes, count(func(r *server.Request) {
		n, _ := strconv.Atoi(string(r.Body))
		for i := range n {
			r.Conn.Send(codeEcho2, []byte(fmt.Sprint("push-", i)))
		}
		r.Reply([]byte("done"))
	}))
	rt.HandleFunc(codeConnID, count(func(r *server.Request) {
		r.Reply(strconv.AppendUint(nil, r.Conn.ID(), 10))
	}))
	ts.demoApp(rt)
	return rt
}

// demoApp imitates wharfd's chat handlers (codes 5, 6, 7) closely enough to
// test the client's helpers: "taken" is a taken username, "wrong" a wrong
// password.
func (ts *testServer) demoApp(rt *server.Router) {
	type creds struct{ Username, Password string }
	rt.HandleFunc(CodeRegister, func(r *server.Request) {
		var c creds
		if json.Unmarshal(r.Body, &c) != nil {
			r.Error("malformed JSON")
			return
		}
		if c.Username == "taken" {
			r.ReplyJSON(map[string]any{"ok": false, "error": "username taken"})
			return
		}
		r.ReplyJSON(map[string]any{"ok": true, "user_id": 42})
	})
	rt.HandleFunc(CodeLogin, func(r *server.Request) {
		var c creds
		if json.Unmarshal(r.Body, &c) != nil {
			r.Error("malformed JSON")
			return
		}
		if c.Password == "wrong" {
			r.ReplyJSON(map[string]any{"ok": false, "error": "wrong username or password"})
			return
		}
		r.Conn.SetValue(c.Username)
		r.ReplyJSON(map[string]any{"ok": true, "user_id": 42, "token": "tok-" + c.Username, "future_field": 1})
	})
	rt.HandleFunc(CodeSay, func(r *server.Request) {
		var s struct{ Text string }
		if json.Unmarshal(r.Body, &s) != nil {
			r.Error("malformed JSON")
			return
		}
		user, ok := r.Conn.Value().(string)
		if !ok {
			r.ReplyJSON(map[string]any{"ok": false, "error": "not logged in"})
			return
		}
		msg, _ := json.Marshal(Message{From: user, Text: s.Text, TS: time.Now().UnixMilli()})
		ts.srv.Broadcast(CodeMessage, msg, func(c *server.Conn) bool { return c.Value() != nil })
		r.ReplyJSON(map[string]any{"ok": true})
	})
}

// startServer starts a wharf server with the test application on listen
// ("" for loopback port 0) and shuts it down when the test ends.
func startServer(t testing.TB, cfg server.Config, listen string) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Engine.Loops == 0 {
		cfg.Engine.Loops = 1
	}
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = -1
	}
	if cfg.FloodCount == 0 {
		cfg.FloodCount = -1 // tests pipeline bursts
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ts := &testServer{held: make(chan struct{}, 100), release: make(chan struct{})}
	s, err := server.New(cfg, ts.router())
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = s
	a, err := s.Listen("tcp://" + listen)
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = a.String()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.stop(t, 10*time.Second) })
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(ts.release) }) }) // runs first: no handler holds the shutdown
	return ts
}

// stop shuts the server down, giving in-flight handlers grace to finish.
func (ts *testServer) stop(t testing.TB, grace time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	ts.srv.Shutdown(ctx)
	<-ts.srv.Done()
}

// dial connects a client that is closed when the test ends.
func dial(t testing.TB, addr string, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fakeServer is a raw TCP listener whose connections are handled by handle,
// for replies a real server never sends. It stops when the test ends.
func fakeServer(t testing.TB, handle func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				handle(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoConn answers every packet with the same code and body, as a server
// would, without allocating: the allocation tests and benchmarks use it to
// see the client's costs alone.
func echoConn(nc net.Conn) {
	rd := packet.NewReader(nc)
	var out []byte
	for {
		code, body, err := rd.ReadPacket()
		if err != nil {
			return
		}
		out, _ = packet.Append(out[:0], code, body)
		for rd.Buffered() >= packet.HeaderSize { // batch what is already here
			if code, body, err = rd.ReadPacket(); err != nil {
				return
			}
			out, _ = packet.Append(out, code, body)
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

// silentConn reads and discards everything.
func silentConn(nc net.Conn) { io.Copy(io.Discard, nc) }

var eventually = testkit.Eventually

// waitDone waits for the client to end.
func waitDone(t testing.TB, c *Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("client did not end")
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
