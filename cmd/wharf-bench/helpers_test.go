package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
	"wharf/chat"
	"wharf/engine"
	"wharf/httpd"
	"wharf/internal/loadgen"
	"wharf/kcp"
	"wharf/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// echoHandler writes back whatever arrives.
type echoHandler struct{ engine.BaseHandler }

func (echoHandler) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

// startEcho starts an echo server on the engine (as examples/echo).
func startEcho(t *testing.T) string {
	t.Helper()
	e, err := engine.New(engine.Config{Loops: 1, Logger: quiet}, echoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return a.String()
}

// startPacket starts a message server answering pings, and code 2 by
// echoing the body. cfg's zero fields get quiet test defaults.
func startPacket(t *testing.T, cfg server.Config) (*server.Server, string) {
	t.Helper()
	rt := server.NewRouter()
	rt.HandleFunc(2, func(r *server.Request) { r.Reply(r.Body) })
	cfg.Logger, cfg.StatsInterval = quiet, -1
	cfg.Engine.Logger = quiet
	srv, err := server.New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := srv.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(srv) })
	return srv, a.String()
}

func stopServer(srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// startChat starts wharfd's demo application on a fresh SQLite database,
// with the cheapest bcrypt cost and the flood guard off.
func startChat(t *testing.T) string {
	t.Helper()
	// Limits a load test does not trip: its users say many times a second.
	_, addr := startChatApp(t, chat.Config{SayRate: 1e6, SayBurst: 1e6, SayPerIPRate: 1e6, SayPerIPBurst: 1e6})
	return addr
}

// startChatApp is startChat with cfg (its Logger is the test's), and the
// App too.
func startChatApp(t *testing.T, cfg chat.Config) (*chat.App, string) {
	t.Helper()
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "chat.db"), accounts.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quiet
	app, err := chat.New(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := server.NewRouter()
	app.Routes(rt)
	srv, err := server.New(server.Config{Logger: quiet, StatsInterval: -1, FloodMode: server.FloodOff}, rt)
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
	t.Cleanup(func() { stopServer(srv) })
	return app, a.String()
}

// startHTTP starts httpd with cfg (a Native or a Handler) and returns the
// base URL.
func startHTTP(t *testing.T, cfg httpd.Config) string {
	t.Helper()
	cfg.Logger = quiet
	cfg.Engine = engine.Config{Loops: 1, Logger: quiet}
	s, err := httpd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return "http://" + a.String() + "/"
}

var helloNative = httpd.NativeFunc(func(c *httpd.RequestCtx) {
	c.SetContentType("text/plain")
	c.Write([]byte("Hello, World!"))
})

// chunkedHandler answers in two flushed parts, so the response is chunked.
var chunkedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("Hello, "))
	w.(http.Flusher).Flush()
	w.Write([]byte("chunked World!"))
})

// startKCP starts a message server with a KCP transport and returns the
// UDP address.
func startKCP(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{Logger: quiet, StatsInterval: -1, FloodMode: server.FloodOff}, server.NewRouter())
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := kcp.Serve(pc, kcp.Config{Logger: quiet}, srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	srv.Attach(tr)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(srv) })
	return tr.Addr().String()
}

// runJSON runs wharf-bench with args plus -json and decodes its result.
func runJSON(t *testing.T, args ...string) (*loadgen.Result, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "-json"), &out, &errb)
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout is not one JSON line:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	var res loadgen.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not a result: %v\n%s", err, out.String())
	}
	if res.ExitCode != code {
		t.Errorf("exit_code %d in the JSON, %d returned", res.ExitCode, code)
	}
	return &res, code, errb.String()
}

// checkClean asserts a run that went right: exit 0, requests done, no
// errors, percentiles present and ordered.
func checkClean(t *testing.T, res *loadgen.Result, code int, stderr string) {
	t.Helper()
	if code != exitOK || !res.OK {
		t.Fatalf("exit %d ok=%v errors=%v hints=%v\nstderr:\n%s", code, res.OK, res.Errors.ByKind, res.Hints, stderr)
	}
	if res.Requests <= 0 {
		t.Fatalf("requests = %d, want > 0", res.Requests)
	}
	if res.Errors.Total != 0 || len(res.Errors.ByKind) != 0 {
		t.Fatalf("errors = %d %v, want none", res.Errors.Total, res.Errors.ByKind)
	}
	checkLatency(t, res.Latency, res.Requests)
}

func checkLatency(t *testing.T, l *loadgen.Latency, count int64) {
	t.Helper()
	if l == nil {
		t.Fatal("latency missing")
	}
	if l.Count != count {
		t.Errorf("latency count %d, want %d", l.Count, count)
	}
	if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", *l)
	}
}
