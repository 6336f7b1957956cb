package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"wharf/engine"
	"wharf/server"
	"wharf/tlsconn"
)

// startTLS serves ts's server on a TLS engine as wharfd does for its
// tls:// listeners, and returns the address and a pool trusting its
// self-signed certificate.
func startTLS(t *testing.T, ts *testServer) (addr string, roots *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, err := tlsconn.SelfSigned(tlsconn.SelfSignedHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	h, err := tlsconn.NewHandler(tlsconn.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Logger: quietLogger()}, ts.srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{Loops: 1, Logger: quietLogger()}, h)
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
	return a.String(), roots
}

// TestDialTLS: tls:// dials with the certificate verified (against
// Config.TLS's roots, for the address's host), requests go through, and a
// server the client cannot verify is refused by default.
func TestDialTLS(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	addr, roots := startTLS(t, ts)
	_, port, _ := net.SplitHostPort(addr)
	for _, target := range []string{"tls://" + addr, "tls://localhost:" + port} {
		c := dial(t, target, Config{TLS: &tls.Config{RootCAs: roots}})
		got, err := c.Request(context.Background(), codeEcho, []byte("over tls"))
		if err != nil || string(got) != "over tls" {
			t.Fatalf("%s: echo %q, %v", target, got, err)
		}
		if _, err := c.Ping(context.Background()); err != nil {
			t.Fatalf("%s: ping: %v", target, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, "tls://"+addr, Config{}) // the system's roots: not our certificate
	var de *DialError
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &de) || !errors.As(err, &cve) {
		t.Fatalf("Dial with default verification: %v, want a *DialError with a certificate verification error", err)
	}
	_, err = Dial(ctx, "tls://"+addr, Config{TLS: &tls.Config{RootCAs: roots, ServerName: "elsewhere.test"}})
	if !errors.As(err, &cve) {
		t.Fatalf("Dial for another name: %v, want a certificate verification error", err)
	}
}
