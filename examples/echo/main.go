// Command echo is the minimal wharf program: an echo server on the engine.
//
//	go run ./examples/echo -addr tcp://127.0.0.1:9000 -loops 2 -engine reactor
//
// Every byte a client sends comes back to it. -engine goroutine runs the same
// handler on the goroutine engine.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wharf/engine"
)

// echo writes back whatever arrives.
type echo struct{ engine.BaseHandler }

func (echo) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

func main() {
	addr := flag.String("addr", "tcp://127.0.0.1:9000", "listen address (tcp://host:port, unix:///path)")
	loops := flag.Int("loops", 0, "event loops (0: GOMAXPROCS)")
	kind := flag.String("engine", "reactor", "engine: reactor, uring, goroutine or auto")
	reuse := flag.Bool("reuseport", false, "one SO_REUSEPORT listener per loop")
	flag.Parse()

	k, err := engine.ParseKind(*kind)
	if err != nil {
		log.Fatal(err)
	}
	e, err := engine.New(engine.Config{Kind: k, Loops: *loops, ReusePort: *reuse}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	a, err := e.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echo: %s engine serving on %s\n", e.Config().Kind, a) // uring falls back to reactor where io_uring is unavailable

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	}()
	if err := e.Serve(); err != engine.ErrEngineClosed {
		log.Fatal(err)
	}
	s := e.Stats()
	fmt.Printf("echo: stopped after %d connections, %d bytes in, %d bytes out\n", s.Accepted, s.BytesRead, s.BytesWritten)
}
