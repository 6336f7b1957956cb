// Command echoserver runs one echo server implementation for the side-by-side
// benchmarks of bench/RESULTS.md. Every implementation echoes whatever it
// reads, on one event loop (or goroutine-per-connection for net), so that the
// benchmark compares engines and not configurations.
//
//	echoserver -impl wharf|wharf-uring|wharf-goroutine|wharf-packet|gnet|netpoll|nbio|net -addr 127.0.0.1:7100
//	echoserver -impl wharf-ws|wharf-ws-adapter|nbio-ws|gorilla-ws|gws -addr 127.0.0.1:7100
//	echoserver -impl wharf-tls|net-tls|nbio-tls -cert cert.pem -key key.pem -addr 127.0.0.1:7100
//
// wharf-packet is the message server (package server) answering packets
// of code 10 with the same body from its worker pool. The -ws
// implementations (and gws) are WebSocket echo servers at /ws (ws.go):
// wharf-ws on httpd's native API, wharf-ws-adapter through a net/http
// handler on httpd's adapter, nbio's nbhttp/websocket, gorilla/websocket on
// net/http, and lxzan/gws's own server.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"wharf/engine"
)

var impls = map[string]func(addr string, loops int) (stop func(), err error){
	"wharf": func(a string, n int) (func(), error) { return serveWharf(a, n, engine.Config{}) },
	// The engine's knobs, measured one at a time against the defaults.
	"wharf-lock": func(a string, n int) (func(), error) {
		return serveWharf(a, n, engine.Config{LockOSThread: true})
	},
	"wharf-connbuf": func(a string, n int) (func(), error) {
		return serveWharf(a, n, engine.Config{ReadMode: engine.ReadConnBuffer})
	},
	"wharf-blockwait": func(a string, n int) (func(), error) {
		return serveWharf(a, n, engine.Config{BlockingWait: true})
	},
	// The io_uring backend (falls back to the reactor, saying so, where
	// io_uring is unavailable), parked and blocking like the reactor.
	"wharf-uring": func(a string, n int) (func(), error) {
		return serveWharf(a, n, engine.Config{Kind: engine.Uring})
	},
	"wharf-uring-blockwait": func(a string, n int) (func(), error) {
		return serveWharf(a, n, engine.Config{Kind: engine.Uring, BlockingWait: true})
	},
	"wharf-goroutine": func(a string, n int) (func(), error) {
		return serveWharf(a, n, engine.Config{Kind: engine.Goroutine})
	},
	"wharf-packet": serveWharfPacket,
	"gnet":         serveGnet,
	"netpoll":      serveNetpoll,
	"nbio":         serveNbio,
	"net":          serveNet,

	"wharf-ws":         func(a string, n int) (func(), error) { return serveWharfWS(a, n, false) },
	"wharf-ws-adapter": func(a string, n int) (func(), error) { return serveWharfWS(a, n, true) },
	"nbio-ws":          serveNbioWS,
	"gorilla-ws":       serveGorillaWS,
	"gws":              serveGWS,

	// TLS (-cert, -key): package tlsconn, crypto/tls on goroutines, nbio's.
	"wharf-tls": func(a string, n int) (func(), error) { return serveWharfTLS(a, n, engine.Config{}) },
	"net-tls":   serveNetTLS,
	"nbio-tls":  serveNbioTLS,
}

func main() {
	impl := flag.String("impl", "wharf", "implementation: wharf, wharf-lock, wharf-connbuf, wharf-blockwait, wharf-uring, wharf-uring-blockwait, wharf-goroutine, wharf-packet, gnet, netpoll, nbio, net; WebSocket: wharf-ws, wharf-ws-adapter, nbio-ws, gorilla-ws, gws; TLS (-cert, -key): wharf-tls, net-tls, nbio-tls")
	addr := flag.String("addr", "127.0.0.1:7100", "listen address")
	loops := flag.Int("loops", 1, "event loops")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until stopped")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	f, ok := impls[*impl]
	if !ok {
		log.Fatalf("echoserver: unknown -impl %q", *impl)
	}
	stop, err := f(*addr, *loops)
	if err != nil {
		log.Fatalf("echoserver: %s: %v", *impl, err)
	}
	fmt.Printf("echoserver: %s listening on %s\n", *impl, *addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	stop()
}
