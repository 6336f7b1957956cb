package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"wharf/internal/tlstest"
	"wharf/server"
)

// TestDialTLS: tls:// dials with the certificate verified (against
// Config.TLS's roots, for the address's host), requests go through, and a
// server the client cannot verify is refused by default.
func TestDialTLS(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	addr, roots := tlstest.Serve(t, ts.srv.Handler()), tlstest.Roots()
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
