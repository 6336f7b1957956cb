package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"wharf/packet"
	"wharf/server"
)

// codeUpper is an application code: the reply is the body in upper case.
const codeUpper = 20

// A message server with one handler: it answers pings itself, and runs
// the handler on its worker pool, in order per connection.
func ExampleNew() {
	rt := server.NewRouter()
	rt.HandleFunc(codeUpper, func(r *server.Request) {
		r.Reply([]byte(strings.ToUpper(string(r.Body))))
	})
	srv, err := server.New(server.Config{StatsInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, rt)
	if err != nil {
		panic(err)
	}
	addr, _ := srv.Listen("tcp://127.0.0.1:0")
	srv.Start()
	defer srv.Shutdown(context.Background())

	c, _ := net.Dial("tcp", addr.String())
	defer c.Close()
	packet.WritePacket(c, packet.CodePing, nil)
	packet.WritePacket(c, codeUpper, []byte("hello"))
	r := packet.NewReader(c)
	for range 2 {
		code, body, _ := r.ReadPacket()
		fmt.Printf("code %d %q\n", code, body)
	}
	// Output:
	// code 0 ""
	// code 20 "HELLO"
}

// codePush is a server-to-client code.
const codePush = 21

// Broadcast pushes one packet to every connection (of every transport)
// that the filter keeps; a handler's Conn.Send pushes to one.
func ExampleServer_Broadcast() {
	rt := server.NewRouter()
	srv, _ := server.New(server.Config{StatsInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, rt)
	addr, _ := srv.Listen("tcp://127.0.0.1:0")
	srv.Start()
	defer srv.Shutdown(context.Background())

	c, _ := net.Dial("tcp", addr.String())
	defer c.Close()
	packet.WritePacket(c, packet.CodePing, nil) // the connection is served once this comes back
	r := packet.NewReader(c)
	r.ReadPacket()

	n, _ := srv.Broadcast(codePush, []byte("to everyone"), nil)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, body, _ := r.ReadPacket()
	fmt.Println(n, code, string(body))
	// Output: 1 21 to everyone
}
