package main

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"wharf/engine"
	"wharf/httpd"
	"wharf/server"
	"wharf/tlsconn"
)

// selfSigned writes a self-signed certificate for localhost into a temp
// dir and returns it loaded and the file clients trust it from.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	certPEM, keyPEM, err := tlsconn.SelfSigned(tlsconn.SelfSignedHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, certPEM, 0o600)
	return cert, ca
}

// startTLSEngine serves h over TLS on a loopback port.
func startTLSEngine(t *testing.T, cert tls.Certificate, h engine.Handler) string {
	t.Helper()
	th, err := tlsconn.NewHandler(tlsconn.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Logger: quiet}, h)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{Loops: 1, Logger: quiet}, th)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return a.String()
}

// TestTLS: -tls for echo, packet and http (https:// implies it) against
// wharf's TLS listeners, the server verified with -tls-ca; without the CA
// every handshake fails and is reported by reason.
func TestTLS(t *testing.T) {
	cert, ca := selfSigned(t)
	echo := startTLSEngine(t, cert, echoHandler{})
	srv, _ := startPacket(t, server.Config{FloodMode: server.FloodOff})
	packet := startTLSEngine(t, cert, srv.Handler())
	hs, err := httpd.New(httpd.Config{Native: helloNative, Logger: quiet, Engine: engine.Config{Loops: 1, Logger: quiet},
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
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
