package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"wharf/client"
	"wharf/server"
)

// exampleServer starts a wharf server on loopback with an echo handler on
// code 10, a "hello" push on code 30, and stand-ins for the chat demo's
// register, login and say (codes 5 to 7; say needs no login here), and
// returns its address and a stop function.
func exampleServer() (addr string, stop func()) {
	rt := server.NewRouter()
	rt.HandleFunc(10, func(r *server.Request) { r.Reply(r.Body) })
	rt.HandleFunc(30, func(r *server.Request) {
		r.Conn.Send(31, []byte("hello from the server")) // a push
		r.Reply(nil)
	})
	var srv *server.Server
	rt.HandleFunc(client.CodeSay, func(r *server.Request) {
		var say struct{ Text string }
		json.Unmarshal(r.Body, &say)
		msg, _ := json.Marshal(client.Message{From: "alice", Text: say.Text, TS: 1700000000000})
		srv.Broadcast(client.CodeMessage, msg, nil)
		r.Reply([]byte(`{"ok":true}`))
	})
	rt.HandleFunc(client.CodeRegister, func(r *server.Request) {
		var c struct{ Username string }
		json.Unmarshal(r.Body, &c)
		if c.Username == "alice" {
			r.Reply([]byte(`{"ok":false,"error":"username taken"}`))
			return
		}
		r.Reply([]byte(`{"ok":true,"user_id":7}`))
	})
	rt.HandleFunc(client.CodeLogin, func(r *server.Request) {
		r.Reply([]byte(`{"ok":true,"user_id":7,"token":"s3cr3t"}`))
	})
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler), StatsInterval: -1}, rt)
	if err != nil {
		panic(err)
	}
	a, err := srv.Listen("tcp://127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	return a.String(), func() { srv.Shutdown(context.Background()) }
}

func ExampleDial() {
	addr, stop := exampleServer()
	defer stop()

	ctx := context.Background()
	c, err := client.Dial(ctx, addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	reply, err := c.Request(ctx, 10, []byte("hello"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output: hello
}

// Requests from many goroutines share one connection; each gets its own
// reply.
func ExampleClient_Request() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	replies := make([]string, 5)
	for i := range replies {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reply, err := c.Request(ctx, 10, fmt.Appendf(nil, "request %d", i))
			if err != nil {
				panic(err)
			}
			replies[i] = string(reply)
		})
	}
	wg.Wait()
	fmt.Println(replies)
	// Output: [request 0 request 1 request 2 request 3 request 4]
}

// AppendReply reuses the caller's buffer: no allocation per request.
func ExampleClient_AppendReply() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	buf := make([]byte, 0, 64)
	for i := range 3 {
		buf, err = c.AppendReply(context.Background(), buf[:0], 10, fmt.Appendf(nil, "#%d", i))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s ", buf)
	}
	fmt.Println()
	// Output: #0 #1 #2
}

func ExampleClient_RequestJSON() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	type point struct{ X, Y int }
	var got point
	if err := c.RequestJSON(context.Background(), 10, point{1, 2}, &got); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", got)
	// Output: {X:1 Y:2}
}

// A code the server does not handle gets a code 1 reply: a *ServerError.
func ExampleServerError() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	_, err = c.Request(context.Background(), 99, nil)
	var se *client.ServerError
	if errors.As(err, &se) {
		fmt.Println(se.Code, se.Message)
	}
	fmt.Println(err)
	// Output:
	// 99 unknown code 99
	// client: server error for code 99: unknown code 99
}

// Send does not wait for the reply; the client drops it when it comes.
func ExampleClient_Send() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if err := c.Send(10, []byte("fire and forget")); err != nil {
		panic(err)
	}
	reply, _ := c.Request(context.Background(), 10, []byte("mine"))
	fmt.Printf("%s\n", reply)
	// Output: mine
}

func ExampleClient_Ping() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	rtt, err := c.Ping(context.Background())
	fmt.Println(err == nil, rtt > 0)
	// Output: true true
}

// OnPush receives what the server sends unasked, in order.
func ExampleConfig_onPush() {
	addr, stop := exampleServer()
	defer stop()
	pushes := make(chan string, 1)
	c, err := client.Dial(context.Background(), addr, client.Config{
		OnPush: func(code uint16, body []byte) {
			pushes <- fmt.Sprintf("code %d: %s", code, body) // body is valid only during the call
		},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if _, err := c.Request(context.Background(), 30, nil); err != nil {
		panic(err)
	}
	fmt.Println(<-pushes)
	// Output: code 31: hello from the server
}

// Done and Err tell when and why a client without Reconnect ended; the
// server's shutdown notice arrives as a push first.
func ExampleClient_Done() {
	addr, stop := exampleServer()
	c, err := client.Dial(context.Background(), addr, client.Config{
		OnPush: func(code uint16, body []byte) { fmt.Printf("push %d: %s\n", code, body) },
	})
	if err != nil {
		panic(err)
	}
	c.Ping(context.Background()) // the server has accepted the connection
	stop()
	<-c.Done()
	fmt.Println(errors.Is(c.Err(), client.ErrConnLost))
	// Output:
	// push 1: {"code":0,"error":"server shutting down"}
	// true
}

// A client that survives server restarts: it redials with backoff, and
// OnState says when to redo per-connection setup such as a login.
func ExampleConfig_reconnect() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{
		Reconnect:  true,
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 5 * time.Second,
		OnState: func(s client.State, err error) {
			if s == client.StateConnected {
				fmt.Println("connected")
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	// Output: connected
}

func ExampleNewPool() {
	addr, stop := exampleServer()
	defer stop()

	ctx := context.Background()
	p, err := client.NewPool(ctx, client.PoolConfig{Addrs: []string{addr}, Size: 4})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	for range 8 { // two requests on each connection
		if _, err := p.Request(ctx, 10, []byte("x")); err != nil {
			panic(err)
		}
	}
	for _, c := range p.Clients() {
		fmt.Print(c.Stats().Replies, " ")
	}
	fmt.Println()
	// Output: 2 2 2 2
}

// The chat demo: say something and receive it back as a CodeMessage push.
func ExampleClient_Say() {
	addr, stop := exampleServer()
	defer stop()
	messages := make(chan client.Message, 1)
	c, err := client.Dial(context.Background(), addr, client.Config{
		OnPush: func(code uint16, body []byte) {
			if code == client.CodeMessage {
				if m, err := client.DecodeMessage(body); err == nil {
					messages <- m
				}
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if err := c.Say(context.Background(), "hello, world"); err != nil {
		panic(err)
	}
	m := <-messages
	fmt.Printf("%s: %s\n", m.From, m.Text)
	// Output: alice: hello, world
}

func ExampleDecodeMessage() {
	m, err := client.DecodeMessage([]byte(`{"from":"alice","text":"hi","ts":1700000000000}`))
	fmt.Println(m.From, m.Text, time.UnixMilli(m.TS).UTC().Format(time.DateTime), err)
	// Output: alice hi 2023-11-14 22:13:20 <nil>
}

// Register and Login turn {"ok": false} replies into an *AppError.
func ExampleClient_Login() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	_, err = c.Register(ctx, "alice", "correct horse")
	var ae *client.AppError
	fmt.Println(errors.As(err, &ae), err)

	id, _ := c.Register(ctx, "bob", "battery staple")
	fmt.Println("registered", id)

	id, token, err := c.Login(ctx, "bob", "battery staple")
	fmt.Println("logged in", id, token != "", err)
	// Output:
	// true client: code 5 refused: username taken
	// registered 7
	// logged in 7 true <nil>
}

func ExampleClient_Stats() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	for range 3 {
		c.Request(context.Background(), 10, []byte("x"))
	}
	c.Request(context.Background(), 99, nil)
	st := c.Stats()
	fmt.Println(st.Sent, st.Replies, st.ServerErrors, st.Errors)
	// Output: 4 3 1 1
}

// Close fails what is in flight with ErrClosed and ends the client.
func ExampleClient_Close() {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(context.Background(), addr, client.Config{})
	if err != nil {
		panic(err)
	}
	c.Close()
	_, err = c.Request(context.Background(), 10, nil)
	fmt.Println(err, c.Err())
	// Output: client: closed client: closed
}
