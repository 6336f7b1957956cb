package channels_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/packet"
)

// printer is a Subscriber that prints what it is given.
type printer struct {
	id   uint64
	user string
}

func (p printer) ID() uint64     { return p.id }
func (p printer) UserID() string { return p.user }
func (p printer) Deliver(b []byte) error {
	fmt.Printf("conn %d <- %s", p.id, b)
	return nil
}

// lines encodes a message as a line of text: readable output for the
// examples (wharfd passes PacketEncoder, below).
var lines = channels.EncoderFunc(func(dst []byte, m *channels.Message) ([]byte, error) {
	switch m.Kind {
	case channels.KindJoin, channels.KindLeave:
		return fmt.Appendf(dst, "%v %s %s\n", m.Kind, m.Channel, m.User), nil
	case channels.KindDirect:
		return fmt.Appendf(dst, "direct from %q: %s\n", m.From, m.Data), nil
	}
	return fmt.Appendf(dst, "%s #%d from %q: %s\n", m.Channel, m.Offset, m.From, m.Data), nil
})

func ExampleNewHub() {
	hub, err := channels.NewHub(channels.Config{Encoder: lines}) // the default namespaces
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	alice := hub.Connect(printer{id: 1, user: "1"}) // when the connection logs in
	defer alice.Close()                             // when it closes
	bob := hub.Connect(printer{id: 2, user: "2"})
	defer bob.Close()

	room, _ := channels.ParseName("room:lobby")
	alice.Subscribe(ctx, room, channels.SubscribeOptions{JoinLeave: true})
	bob.Subscribe(ctx, room, channels.SubscribeOptions{})
	res, _ := bob.Publish(ctx, room, []byte(`{"text":"hi"}`))
	fmt.Println("delivered to", res.Delivered)
	hub.SendToUser("2", []byte(`"a word in private"`)) // every connection of user 2
	// Output:
	// conn 1 <- join room:lobby 1
	// conn 1 <- join room:lobby 2
	// conn 1 <- room:lobby #1 from "2": {"text":"hi"}
	// conn 2 <- room:lobby #1 from "2": {"text":"hi"}
	// delivered to 2
	// conn 2 <- direct from "": "a word in private"
	// conn 1 <- leave room:lobby 2
}

// A client that reconnects sends the position it last saw and receives
// what it missed, before anything new.
func ExampleClient_Subscribe() {
	hub, _ := channels.NewHub(channels.Config{Encoder: lines})
	ctx := context.Background()
	room, _ := channels.ParseName("room:lobby")
	first, _ := hub.Publish(ctx, room, []byte(`"one"`))
	hub.Publish(ctx, room, []byte(`"two"`))
	hub.Publish(ctx, room, []byte(`"three"`))

	c := hub.Connect(printer{id: 7, user: "7"})
	defer c.Close()
	res, _ := c.Subscribe(ctx, room, channels.SubscribeOptions{Recover: true, Since: first.Position})
	fmt.Println("recovered:", res.Recovered, "missed:", res.Missed, "now at", res.Position.Offset)

	// A position from another epoch (a server restarted with memory
	// history) cannot be recovered: the client must resync.
	other, _ := channels.ParseName("room:other")
	res, _ = c.Subscribe(ctx, other, channels.SubscribeOptions{Recover: true, Since: channels.Position{Offset: 3, Epoch: "gone"}})
	fmt.Println("recovered:", res.Recovered)
	// Output:
	// conn 7 <- room:lobby #2 from "": "two"
	// room:lobby #3 from "": "three"
	// recovered: true missed: 2 now at 3
	// recovered: false
}

func ExampleParseName() {
	for _, s := range []string{"room:lobby", "general", "user:42", "room:a b"} {
		n, err := channels.ParseName(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("namespace %q, local %q\n", n.Namespace(), n.Local())
	}
	// Output:
	// namespace "room", local "lobby"
	// namespace "", local "general"
	// namespace "user", local "42"
	// channels: invalid channel name "room:a b": character ' ' at byte 6 not allowed
}

// History in the accounts database survives a restart. wharfd opens the
// accounts store once and hands its database to the history store.
func ExampleOpenSQLHistory() {
	dir, _ := os.MkdirTemp("", "wharf")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://"+filepath.Join(dir, "wharf.db"), accounts.StoreOptions{})
	if err != nil {
		panic(err)
	}
	defer store.Close() // after the hub's last use of the history
	db, _ := accounts.DatabaseOf(store)
	history, err := channels.OpenSQLHistory(ctx, channels.SQLDatabase{Dialect: db.Dialect, Writer: db.Writer, Reader: db.Reader}, channels.SQLHistoryConfig{})
	if err != nil {
		panic(err)
	}
	hub, _ := channels.NewHub(channels.Config{Encoder: lines, History: history})
	room, _ := channels.ParseName("room:lobby")
	res, _ := hub.Publish(ctx, room, []byte(`"kept"`))
	fmt.Println("offset", res.Position.Offset)
	// Output: offset 1
}

// PacketEncoder frames each message as a packet of the wharf protocol:
// the JSON body of AppendJSON with the push's code (packet/SPEC.md
// section 8), encoded in place with no copy of the body.
var PacketEncoder = channels.EncoderFunc(func(dst []byte, m *channels.Message) ([]byte, error) {
	var code uint16
	switch m.Kind {
	case channels.KindPublication:
		code = 12
	case channels.KindJoin:
		code = 13
	case channels.KindLeave:
		code = 14
	case channels.KindDirect:
		code = 18
	}
	start := len(dst)
	dst = append(dst, make([]byte, packet.HeaderSize)...)
	dst = channels.AppendJSON(dst, m)
	if err := packet.Seal(dst[start:], code); err != nil {
		return dst[:start], err
	}
	return dst, nil
})

func ExampleEncoderFunc() {
	m := &channels.Message{Kind: channels.KindJoin, Channel: "room:lobby", User: "42"}
	p, _ := PacketEncoder.AppendMessage(nil, m)
	h := packet.ParseHeader(p)
	fmt.Printf("code %d, length %d: %s\n", h.Code, h.Length, p[packet.HeaderSize:])
	// Output: code 13, length 44: {"channel":"room:lobby","user":"42"}
}

// Workers of one wharfd master share channels through the master's relay
// (supervisor.Hub implements Relay) and a shared SQL history.
func ExampleNewRelayBroker() {
	var relay channels.Relay = loopRelay{} // supervisor.Hub in wharfd
	hub, _ := channels.NewHub(channels.Config{Encoder: lines, Broker: channels.NewRelayBroker(relay, "channels")})
	_ = hub
	// Output:
}

// loopRelay is a Relay with no other process.
type loopRelay struct{}

func (loopRelay) Publish(string, []byte) error        { return nil }
func (loopRelay) Subscribe(string, func(data []byte)) {}

// The JSON bodies of the pushes, as every transport sends them.
func ExampleAppendJSON() {
	m := &channels.Message{Kind: channels.KindPublication, Channel: "room:lobby", Offset: 8, Epoch: "k3j9q0c1vb",
		From: "2", Time: 1700000000000, Data: []byte(`{"text":"hi"}`)}
	fmt.Printf("%s\n", channels.AppendJSON(nil, m))
	// Output: {"channel":"room:lobby","offset":8,"epoch":"k3j9q0c1vb","from":"2","ts":1700000000000,"data":{"text":"hi"}}
}

// The memory history, the Hub's default, with a longer stream lifetime:
// a client idle for up to a week recovers if nothing it missed expired.
func ExampleNewMemoryHistory() {
	history, err := channels.NewMemoryHistory(channels.MemoryHistoryConfig{StreamTTL: 7 * 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	hub, _ := channels.NewHub(channels.Config{Encoder: lines, History: history})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- hub.RunExpiry(ctx, time.Minute) }() // reclaims expired entries
	stop()
	fmt.Println(<-done)
	// Output: context canceled
}
