// Package tlstest gives tests what TLS needs: a server certificate (a
// self-signed ECDSA P-256 one for localhost, 127.0.0.1 and ::1, made once
// per test binary by tlsconn.SelfSigned), a pool and a CA file trusting
// it, fresh key pairs on disk, and a TLS listener on an engine. Tests
// only; it is not part of wharf's API.
package tlstest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"wharf/engine"
	"wharf/tlsconn"
)

var shared = sync.OnceValues(func() (tls.Certificate, []byte) {
	certPEM, keyPEM, err := tlsconn.SelfSigned(tlsconn.SelfSignedHosts, 24*time.Hour)
	if err != nil {
		panic(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	return cert, certPEM
})

// Cert is the shared server certificate; its Leaf is set.
func Cert() tls.Certificate {
	cert, _ := shared()
	return cert
}

// ServerConfig serves Cert.
func ServerConfig() *tls.Config { return &tls.Config{Certificates: []tls.Certificate{Cert()}} }

// Roots is a pool that trusts Cert.
func Roots() *x509.CertPool {
	_, certPEM := shared()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

// CAFile writes Cert as a PEM file in a test directory and returns its
// name: what curl --cacert, openssl -CAfile and wharf-bench -tls-ca take.
func CAFile(t testing.TB) string {
	t.Helper()
	_, certPEM := shared()
	name := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(name, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// WriteKeyPair makes a new self-signed certificate for hosts and writes it
// and its key to dir/name.crt and dir/name.key.
func WriteKeyPair(t testing.TB, dir, name string, hosts ...string) (cert, key string) {
	t.Helper()
	certPEM, keyPEM, err := tlsconn.SelfSigned(hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// Serve runs h over TLS (package tlsconn, Cert) on a reactor engine with
// one loop on a loopback port, shut down when the test ends, and returns
// its address.
func Serve(t testing.TB, h engine.Handler) string {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	th, err := tlsconn.NewHandler(tlsconn.Config{TLS: ServerConfig(), Logger: quiet}, h)
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
