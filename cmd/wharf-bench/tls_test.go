package main

import (
	"context"
	"net"
	"testing"
	"time"

	"wharf/engine"
	"wharf/httpd"
	"wharf/internal/tlstest"
	"wharf/server"
)

// TestTLS: -tls for echo, packet and http (https:// implies it) against
// wharf's TLS listeners, the server verified with -tls-ca; without the CA
// every handshake fails and is reported by reason.
func TestTLS(t *testing.T) {
	ca := tlstest.CAFile(t)
	echo := tlstest.Serve(t, echoHandler{})
	srv, _ := startPacket(t, server.Config{FloodMode: server.FloodOff})
	packet := tlstest.Serve(t, srv.Handler())
	hs, err := httpd.New(httpd.Config{Native: helloNative, Logger: quiet, Engine: engine.Config{Loops: 1, Logger: quiet},
		TLS: tlstest.ServerConfig()})
	if err != nil {
		t.Fatal(err)
	}
	ha, _ := hs.Listen("tcp://127.0.0.1:0")
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	_, hport, _ := net.SplitHostPort(ha.String())

	for _, args := range [][]string{
		{"echo", "-addr", echo, "-loops", "1", "-c", "5", "-d", "300ms", "-depth", "4"},
		{"packet", "-addr", packet, "-loops", "1", "-mix", "ping", "-c", "5", "-d", "300ms"},
		{"http", "-url", "https://localhost:" + hport + "/", "-c", "4", "-d", "300ms", "-pipeline", "4"},
	} {
		t.Run(args[0], func(t *testing.T) {
			res, code, stderr := runJSON(t, append(args, "-tls", "-tls-ca", ca)...)
			checkClean(t, res, code, stderr)
			if res.Conns.Opened != res.Conns.Target {
				t.Errorf("connections %+v, want all opened", res.Conns)
			}
		})
	}
	t.Run("unverified", func(t *testing.T) {
		res, code, _ := runJSON(t, "echo", "-addr", echo, "-loops", "1", "-c", "3", "-d", "200ms", "-tls")
		if code == exitOK || res.Requests != 0 || res.Errors.ByKind["tls:bad_certificate"] != 3 {
			t.Fatalf("exit %d, %d requests, errors %v: want 3 tls:bad_certificate and a failed run", code, res.Requests, res.Errors.ByKind)
		}
	})
}
