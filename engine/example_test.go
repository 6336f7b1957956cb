package engine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"wharf/engine"
)

// echo writes back whatever it reads, on the loop.
type echo struct{ engine.BaseHandler }

func (echo) OnData(c engine.Conn) error {
	p, _ := c.Next(-1) // valid until the callback returns
	_, err := c.Write(p)
	return err
}

// An echo server: one Handler, a listener, Start, and Shutdown.
func ExampleNew() {
	e, err := engine.New(engine.Config{}, echo{})
	if err != nil {
		panic(err)
	}
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	c, _ := net.Dial("tcp", addr.String())
	defer c.Close()
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	io.ReadFull(c, buf)
	fmt.Println(string(buf))
	// Output: hello
}

// worker answers on another goroutine: the loop must never wait for it.
type worker struct{ engine.BaseHandler }

func (worker) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	line := strings.ToUpper(string(p)) // copied: p is only valid in the callback
	go func() {
		time.Sleep(time.Millisecond) // slow work, off the loop
		c.AsyncWrite([]byte(line), func(c engine.Conn, err error) {
			// The bytes reached the socket (err nil) or never will.
		})
	}()
	return nil
}

// Replies from other goroutines go through AsyncWrite, in order per calling
// goroutine, with the engine's send-queue limits.
func ExampleConn_AsyncWrite() {
	e, _ := engine.New(engine.Config{MaxPendingPerConn: 100}, worker{})
	addr, _ := e.Listen("tcp://127.0.0.1:0")
	e.Start()
	defer e.Shutdown(context.Background())

	c, _ := net.Dial("tcp", addr.String())
	defer c.Close()
	c.Write([]byte("shout"))
	buf := make([]byte, 5)
	io.ReadFull(c, buf)
	fmt.Println(string(buf))
	// Output: SHOUT
}

// ServeConn serves a connection made outside the engine, here one end of an
// in-memory pipe, exactly like an accepted one: the kcp package serves its
// KCP sessions this way.
func ExampleEngine_ServeConn() {
	e, _ := engine.New(engine.Config{Kind: engine.Goroutine, IdleTimeout: time.Minute}, echo{})
	e.Start()
	defer e.Shutdown(context.Background())

	server, client := net.Pipe()
	if _, err := e.ServeConn(server, engine.ConnOptions{}); err != nil {
		panic(err)
	}
	go client.Write([]byte("over a pipe"))
	buf := make([]byte, 11)
	io.ReadFull(client, buf)
	fmt.Println(string(buf), e.Stats().Open)
	// Output: over a pipe 1
}
