// Command hello is the minimal HTTP program on wharf: "Hello, World!" as
// text/plain at every path.
//
//	go run ./examples/hello -addr tcp://127.0.0.1:8081 -loops 2 -mode native
//
// -mode native serves it with the native API on the event loop; -mode
// nethttp serves the same answer as a standard http.Handler.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wharf/engine"
	"wharf/httpd"
)

var hello = []byte("Hello, World!")

func main() {
	addr := flag.String("addr", "tcp://127.0.0.1:8081", "listen address (8081: next to a wharfd on :8080)")
	loops := flag.Int("loops", 0, "event loops (0: GOMAXPROCS)")
	mode := flag.String("mode", "native", "native or nethttp")
	flag.Parse()

	cfg := httpd.Config{Engine: engine.Config{Loops: *loops}}
	switch *mode {
	case "native":
		cfg.Native = httpd.NativeFunc(func(c *httpd.RequestCtx) {
			c.SetContentType("text/plain")
			c.Write(hello)
		})
	case "nethttp":
		cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(hello)
		})
	default:
		log.Fatalf("hello: unknown -mode %q (want native or nethttp)", *mode)
	}
	s, err := httpd.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	a, err := s.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hello: %s mode serving on http://%s/\n", *mode, a)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	if err := s.Serve(); err != httpd.ErrServerClosed {
		log.Fatal(err)
	}
}
