// Package natstest runs a real NATS server inside a test binary, for the
// tests of wharf's cluster mode:
//
//	func TestSomething(t *testing.T) {
//		ns := natstest.Start(t) // 127.0.0.1, a free port; stopped when the test ends
//		node, err := cluster.New(cluster.Config{URL: ns.URL(), NodeName: "a"})
//		...
//		ns.Stop()    // an outage: clients see the connection drop
//		ns.Restart() // the server is back, on the same port
//	}
//
// The server is nats-server itself (github.com/nats-io/nats-server/v2),
// embedded: no binary to install, and its goroutines end with the test.
// Processes the test starts (wharfd nodes) connect to URL like to any
// other NATS server.
package natstest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startTimeout bounds how long Start and Restart wait for the server to
// accept connections.
const startTimeout = 10 * time.Second

// Server is a NATS server run by a test. Its methods are safe for
// concurrent use.
type Server struct {
	t    testing.TB
	port int // fixed by the first start, so clients find a restarted server

	mu  sync.Mutex     // guards srv
	srv *server.Server // nil while stopped
}

// Start starts a NATS server on 127.0.0.1 and a free port, and stops it
// when the test ends. It fails the test if the server does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, port: -1} // -1: nats-server picks a free port
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:   "127.0.0.1",
		Port:   s.port,
		NoLog:  true,
		NoSigs: true,
		// Bigger than the default 1 MiB, as deployments often set it.
		MaxPayload: 8 << 20,
	})
	if err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		s.t.Fatalf("natstest: the NATS server did not start on port %d within %v", s.port, startTimeout)
	}
	if s.port < 0 {
		_, p, err := net.SplitHostPort(srv.Addr().String())
		if err != nil {
			s.t.Fatalf("natstest: address %v: %v", srv.Addr(), err)
		}
		s.port, _ = strconv.Atoi(p)
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

// URL returns the server's client URL: nats://127.0.0.1:PORT. It stays
// the same across Restart.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Stop shuts the server down and waits until it has; its clients see
// their connections close. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart starts the server again, on the same port, after Stop. The new
// server knows nothing of the old one's subscriptions: clients that
// reconnect subscribe again (nats.go does it).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// NumClients returns the connections the server holds now (0 while
// stopped).
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return 0
	}
	return s.srv.NumClients()
}
