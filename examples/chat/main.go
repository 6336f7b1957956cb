// Command chat is a terminal client for wharfd's chat application over any
// transport the Go client dials: tcp://, tls://, kcp:// and ws:// (the
// packet protocol over WebSocket, as the web page speaks it).
//
//	go run ./examples/chat -addr ws://localhost:8080/ws -user alice -password 'correct horse'
//
// It logs in (registering first with -register), subscribes to -room with
// join and leave events, prints the room's recent history, and then prints
// every publication, join, leave and direct message as it arrives. Lines
// read from standard input are published to the room, except commands:
//
//	/who              who is in the room
//	/dm ID TEXT       a direct message to the user of that ID (every connection of theirs)
//	/quit             leave
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"wharf/client"
	"wharf/kcp"
	"wharf/packet"
	"wharf/websocket"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "ws://localhost:8080/ws", "server: tcp://, tls://, kcp:// or ws:// URL")
	flag.StringVar(&o.user, "user", "", "username (required)")
	flag.StringVar(&o.password, "password", "", "password (required)")
	flag.BoolVar(&o.register, "register", false, "register the user first (an existing user is not an error)")
	flag.StringVar(&o.room, "room", "room:lobby", "channel to join")
	flag.StringVar(&o.ca, "ca", "", "PEM file of the CA (or self-signed certificate) to trust for tls://")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

type options struct {
	addr, user, password, room, ca string
	register                       bool
}

// run is the client: it returns when in ends, /quit is read, ctx is done
// or the connection is lost. Everything it prints goes to out; pushes are
// printed from the client's reader goroutine, so writes to out are
// serialized through lines.
func run(ctx context.Context, o options, in io.Reader, out io.Writer) error {
	if o.user == "" || o.password == "" {
		return errors.New("-user and -password are required")
	}
	lines := make(chan string, 64)
	printer := make(chan struct{})
	go func() {
		defer close(printer)
		for l := range lines {
			fmt.Fprintln(out, l)
		}
	}()
	defer func() { close(lines); <-printer }()
	say := func(format string, a ...any) {
		select {
		case lines <- fmt.Sprintf(format, a...):
		case <-ctx.Done():
		}
	}

	cfg := client.Config{OnPush: func(code uint16, body []byte) { say("%s", describePush(code, body)) }}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no PEM certificate in it", o.ca)
		}
		cfg.TLS = &tls.Config{RootCAs: roots}
	}
	cfg.Dialer = dialer(cfg.TLS)
	c, err := client.Dial(ctx, o.addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()

	if o.register {
		var se *client.AppError
		if _, err := c.Register(ctx, o.user, o.password); err != nil && !(errors.As(err, &se) && se.Message == "username already taken") {
			return fmt.Errorf("register %s: %w", o.user, err)
		}
	}
	id, _, err := c.Login(ctx, o.user, o.password)
	if err != nil {
		return fmt.Errorf("login %s: %w", o.user, err)
	}
	res, err := c.Subscribe(ctx, o.room, client.SubscribeOptions{JoinLeave: true})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", o.room, err)
	}
	say("logged in as %s (user %d), in %s at offset %d", o.user, id, o.room, res.Offset)
	if pubs, _, _, _, err := c.History(ctx, o.room, 10, nil); err == nil {
		for _, p := range pubs {
			say("  %s", describePublication(p))
		}
	}

	input := make(chan string)
	go func() {
		defer close(input)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case input <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case line, ok := <-input:
			if !ok {
				return nil
			}
			if quit, err := command(ctx, c, o.room, strings.TrimSpace(line), say); quit {
				return nil
			} else if err != nil {
				say("error: %v", err)
			}
		}
	}
}

// dialer opens the client's connections on every transport: package
// client dials TCP (and runs TLS over it) itself; KCP and WebSocket come
// from their packages, wss:// verified with tc's roots when set.
func dialer(tc *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	ws := websocket.StreamDialer(websocket.DialOptions{Subprotocols: []string{packet.WebSocketSubprotocol}, TLSConfig: tc})
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch network {
		case "kcp":
			return kcp.Dial(ctx, addr, kcp.Config{})
		case "ws", "wss":
			return ws(ctx, network, addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// command carries out one line of input.
func command(ctx context.Context, c *client.Client, room, line string, say func(string, ...any)) (quit bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case line == "":
		return false, nil
	case line == "/quit":
		return true, nil
	case line == "/who":
		members, truncated, err := c.Presence(ctx, room)
		if err != nil {
			return false, err
		}
		names := make([]string, len(members))
		for i, m := range members {
			names[i] = "user " + m.User
		}
		more := ""
		if truncated {
			more = " (and more)"
		}
		say("in %s: %s%s", room, strings.Join(names, ", "), more)
		return false, nil
	case strings.HasPrefix(line, "/dm "):
		user, text, ok := strings.Cut(strings.TrimSpace(line[len("/dm "):]), " ")
		if !ok {
			return false, errors.New("usage: /dm ID TEXT")
		}
		return false, c.SendDirect(ctx, user, textData(text))
	case strings.HasPrefix(line, "/"):
		return false, fmt.Errorf("unknown command %q (/who, /dm ID TEXT, /quit)", line)
	}
	_, _, err = c.Publish(ctx, room, textData(line))
	return false, err
}

// textData is a message as the web page writes it: {"text": ...}.
func textData(s string) json.RawMessage {
	b, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{s})
	return b
}

// describePush renders a push for the terminal.
func describePush(code uint16, body []byte) string {
	switch code {
	case client.CodePublication:
		var p client.Publication
		if err := client.DecodePush(body, &p); err == nil {
			return describePublication(p)
		}
	case client.CodeDirect:
		var d client.Direct
		if err := client.DecodePush(body, &d); err == nil {
			return fmt.Sprintf("%s [direct from %s] %s", clock(d.TS), orServer(d.From), text(d.Data))
		}
	case client.CodeJoin, client.CodeLeave:
		var e struct{ Channel, User string }
		if err := json.Unmarshal(body, &e); err == nil {
			verb := "joined"
			if code == client.CodeLeave {
				verb = "left"
			}
			return fmt.Sprintf("* user %s %s %s", e.User, verb, e.Channel)
		}
	case client.CodeMessage:
		if m, err := client.DecodeMessage(body); err == nil {
			return fmt.Sprintf("%s [lobby] <%s> %s", clock(m.TS), m.From, m.Text)
		}
	}
	return fmt.Sprintf("push %d: %s", code, body)
}

func describePublication(p client.Publication) string {
	return fmt.Sprintf("%s #%d <%s> %s", clock(p.TS), p.Offset, orServer(p.From), text(p.Data))
}

// text is data's "text" if it has one, else data as it came.
func text(data json.RawMessage) string {
	var m struct {
		Text *string `json:"text"`
	}
	if json.Unmarshal(data, &m) == nil && m.Text != nil {
		return *m.Text
	}
	return string(data)
}

// orServer names a sender: a user ID, or "" for the application's backend.
func orServer(from string) string {
	if from == "" {
		return "server"
	}
	return "user " + from
}

func clock(ms int64) string { return time.UnixMilli(ms).Format("15:04:05") }
