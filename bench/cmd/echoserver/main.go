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
	"time"
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

// printStats makes the wharf implementations print their engine counters
// when they stop (-stats): system calls, tasks and wake-ups per message,
// which a loaded machine cannot disturb the way it disturbs timings.
var printStats bool

// reportStats prints st per message of msgSize bytes read (0: per packet
// of the message server, whose count is packets).
func reportStats(impl string, st engine.Stats, msgs uint64) {
	if !printStats || msgs == 0 {
		return
	}
	per := func(v uint64) float64 { return float64(v) / float64(msgs) }
	fmt.Fprintf(os.Stderr, "echoserver: %s: %d msgs, per msg: reads %.4f writes %.4f polls %.4f wakeups %.4f tasks %.4f; bytes/write %.0f\n",
		impl, msgs, per(st.Reads), per(st.Writes), per(st.Polls), per(st.Wakeups), per(st.Tasks), float64(st.BytesWritten)/max(float64(st.Writes), 1))
}

func main() {
	impl := flag.String("impl", "wharf", "implementation: wharf, wharf-lock, wharf-connbuf, wharf-blockwait, wharf-uring, wharf-uring-blockwait, wharf-goroutine, wharf-packet, gnet, netpoll, nbio, net; WebSocket: wharf-ws, wharf-ws-adapter, nbio-ws, gorilla-ws, gws; TLS (-cert, -key): wharf-tls, net-tls, nbio-tls")
	addr := flag.String("addr", "127.0.0.1:7100", "listen address")
	loops := flag.Int("loops", 1, "event loops")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until stopped")
	exitAfter := flag.Duration("exit-after", 0, "stop and exit after this long, without a signal (for valgrind, whose callgrind cannot take Go's signal handling)")
	flag.BoolVar(&printStats, "stats", false, "print the engine's counters per message when stopped (wharf implementations)")
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
