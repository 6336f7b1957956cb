package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
	"wharf/chat"
	"wharf/server"
	"wharf/web"
)

// newApp opens a chat application on a fresh SQLite database in dir.
func newApp(dir string) (*chat.App, func()) {
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://"+filepath.Join(dir, "wharf.db"), accounts.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// bcrypt.MinCost keeps the example fast; real servers keep the default.
	svc, err := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	if err != nil {
		log.Fatal(err)
	}
	app, err := chat.New(svc, chat.Config{})
	if err != nil {
		log.Fatal(err)
	}
	return app, func() { store.Close() }
}

// New serves the web app; here a client registers over the JSON API.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "wharf-web-example")
	defer os.RemoveAll(dir)
	app, closeStore := newApp(dir)
	defer closeStore()

	h, err := web.New(web.Config{App: app})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL+"/api/register", "application/json",
		strings.NewReader(`{"username":"alice","password":"correct horse"}`))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	// Output: 200 {"ok":true,"user_id":1}
}

// A net/http server runs the Handler as it is. Registering Close with the
// server ends the live event streams when the server shuts down, so that
// the graceful shutdown need not wait for them.
func ExampleHandler_Close() {
	dir, _ := os.MkdirTemp("", "wharf-web-example")
	defer os.RemoveAll(dir)
	app, closeStore := newApp(dir)
	defer closeStore()

	h, err := web.New(web.Config{App: app})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(h.Close)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	// A browser's live view.
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/events")
	if err != nil {
		log.Fatal(err)
	}
	rd := bufio.NewReader(resp.Body)
	for {
		line, _ := rd.ReadString('\n')
		if strings.HasPrefix(line, "event: hello") {
			fmt.Print(line)
			break
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = io.ReadAll(rd) // the stream has ended
	resp.Body.Close()
	fmt.Println("stream ended:", err == nil)
	fmt.Println(<-done)
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// event: hello
	// stream ended: true
	// http: Server closed
}

// ServerStats gives Config.Stats the numbers of a packet server.
func ExampleServerStats() {
	var pkt *server.Server // started elsewhere
	stats := func(context.Context) (web.Stats, error) {
		return web.ServerStats(pkt.Stats()), nil
	}
	_ = stats

	st := web.ServerStats(server.Stats{Online: 2, PacketsIn: 10})
	fmt.Println(st.Server.Online, st.Server.PacketsIn, st.Workers)
	// Output: 2 10 1
}

// Stats.Add sums the statistics of several server processes, as wharfd's
// master does for its workers.
func ExampleStats_Add() {
	var sum web.Stats
	for _, online := range []int64{3, 4} {
		sum.Add(web.ServerStats(server.Stats{Online: online}))
	}
	fmt.Println(sum.Workers, sum.Server.Online)
	// Output: 2 7
}
