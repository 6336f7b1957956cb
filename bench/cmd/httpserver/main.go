// Command httpserver runs one "Hello, World!" HTTP server implementation for
// the side-by-side benchmarks of bench/RESULTS.md: wharf's native API,
// wharf's net/http adapter, fasthttp, and net/http's own server.
//
//	httpserver -impl wharf-native|wharf-nethttp|fasthttp|nethttp|nbio -addr 127.0.0.1:8100
//
// With -cert and -key every implementation serves HTTPS (HTTP/1.1 only:
// net/http's HTTP/2 is turned off, as wrk speaks HTTP/1.1): wharf's
// through package tlsconn, fasthttp and net/http through crypto/tls on a
// goroutine per connection, nbio (nbhttp) through its fork of crypto/tls.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"wharf/engine"
	"wharf/httpd"
)

var hello = []byte("Hello, World!")

func main() {
	impl := flag.String("impl", "wharf-native", "wharf-native, wharf-nethttp, fasthttp, nethttp or nbio")
	certFile := flag.String("cert", "", "certificate PEM file: serve HTTPS")
	keyFile := flag.String("key", "", "private key PEM file of -cert")
	addr := flag.String("addr", "127.0.0.1:8100", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until stopped")
	memprofile := flag.String("memprofile", "", "write an allocation profile to this file when stopped")
	exitAfter := flag.Duration("exit-after", 0, "stop and exit after this long, without a signal (for valgrind, whose callgrind cannot take Go's signal handling)")
	flag.Parse()
	if *memprofile != "" {
		defer func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				log.Fatal(err)
			}
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var stop func()
	switch *impl {
	case "wharf-native", "wharf-nethttp":
		cfg := httpd.Config{Engine: engine.Config{Loops: 1}}
		if *certFile != "" {
			cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				log.Fatal(err)
			}
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
		if *impl == "wharf-native" {
			cfg.Native = httpd.NativeFunc(func(c *httpd.RequestCtx) {
				c.SetContentType("text/plain")
				c.Write(hello)
			})
		} else {
			cfg.Handler = http.HandlerFunc(helloHandler)
		}
		s, err := httpd.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := s.Listen("tcp://" + *addr); err != nil {
			log.Fatal(err)
		}
		s.Start()
		stop = func() { s.Shutdown(context.Background()) }
	case "fasthttp":
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		s := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
			c.SetContentType("text/plain")
			c.Write(hello)
		}}
		if *certFile != "" {
			go s.ServeTLS(ln, *certFile, *keyFile)
		} else {
			go s.Serve(ln)
		}
		stop = func() { s.Shutdown() }
	case "nethttp":
		ln, err := net.Listen("tcp", *addr) // net/http's own server
		if err != nil {
			log.Fatal(err)
		}
		s := &http.Server{Handler: http.HandlerFunc(helloHandler), ReadHeaderTimeout: 10 * time.Second}
		if *certFile != "" {
			s.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // HTTP/1.1 only
			go s.ServeTLS(ln, *certFile, *keyFile)
		} else {
			go s.Serve(ln)
		}
		stop = func() { s.Shutdown(context.Background()) }
	case "nbio":
		var err error
		if stop, err = serveNbio(*addr, *certFile, *keyFile); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatalf("httpserver: unknown -impl %q", *impl)
	}
	fmt.Printf("httpserver: %s listening on %s\n", *impl, *addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	var exit <-chan time.Time
	if *exitAfter > 0 {
		exit = time.After(*exitAfter)
	}
	select {
	case <-sig:
	case <-exit:
	}
	stop()
}

func helloHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(hello)
}
