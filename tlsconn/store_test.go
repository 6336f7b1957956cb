package tlsconn

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wharf/engine"
)

// TestStoreErrors: a Store that cannot load names the file.
func TestStoreErrors(t *testing.T) {
	p := thePKI(t)
	dir := t.TempDir()
	good := writePair(t, dir, "good", p.issue(t, certOpts{}))
	other := writePair(t, dir, "other", p.issue(t, certOpts{}))
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM"), 0o600)
	for _, tc := range []struct {
		name string
		src  Source
		want string // in the error
	}{
		{"no certificate", Source{}, "no certificate"},
		{"missing certificate", Source{Certs: []KeyPair{{Cert: filepath.Join(dir, "nope.crt"), Key: good.Key}}}, "nope.crt"},
		{"missing key", Source{Certs: []KeyPair{{Cert: good.Cert, Key: filepath.Join(dir, "nope.key")}}}, "nope.key"},
		{"key of another certificate", Source{Certs: []KeyPair{{Cert: good.Cert, Key: other.Key}}}, "other.key"},
		{"garbage certificate", Source{Certs: []KeyPair{{Cert: garbage, Key: good.Key}}}, "garbage.pem"},
		{"second pair broken", Source{Certs: []KeyPair{good, {Cert: other.Cert, Key: good.Key}}}, "other.crt"},
		{"missing client CA", Source{Certs: []KeyPair{good}, ClientCA: filepath.Join(dir, "ca.pem")}, "ca.pem"},
		{"garbage client CA", Source{Certs: []KeyPair{good}, ClientCA: garbage}, "garbage.pem"},
	} {
		_, err := NewStore(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewStore err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}

// TestStoreReload: a reload with good files changes what new handshakes
// get while established connections go on; a reload with a bad file
// changes nothing.
func TestStoreReload(t *testing.T) {
	p := thePKI(t)
	dir := t.TempDir()
	first := writePair(t, dir, "first", p.issue(t, certOpts{names: []string{"localhost", "first.test"}}))
	second := writePair(t, dir, "second", p.issue(t, certOpts{names: []string{"localhost", "second.test"}}))
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		store, err := NewStore(Source{Certs: []KeyPair{first}, ALPN: []string{"x/1"}})
		if err != nil {
			t.Fatal(err)
		}
		s := startServer(t, k, Config{TLS: store.Config()}, engine.Config{}, newTH())
		name := func(c *tls.Conn) string { return c.ConnectionState().PeerCertificates[0].DNSNames[1] }
		ccfg := clientConfig(t)
		ccfg.NextProtos = []string{"x/2", "x/1"}
		old := dialTLS(t, s.addr, ccfg)
		if got := name(old); got != "first.test" {
			t.Fatalf("served %s, want first.test", got)
		}
		if got := old.ConnectionState().NegotiatedProtocol; got != "x/1" {
			t.Fatalf("ALPN %q, want x/1", got)
		}

		if err := store.Reload(Source{Certs: []KeyPair{{Cert: second.Cert, Key: first.Key}}}); err == nil {
			t.Fatal("Reload with a mismatched key succeeded")
		}
		if got := name(dialTLS(t, s.addr, ccfg)); got != "first.test" {
			t.Fatalf("after a bad reload: served %s, want first.test still", got)
		}

		if err := store.Reload(Source{Certs: []KeyPair{second}, ALPN: []string{"x/2"}}); err != nil {
			t.Fatal(err)
		}
		c := dialTLS(t, s.addr, ccfg)
		if got := name(c); got != "second.test" {
			t.Fatalf("after a reload: served %s, want second.test", got)
		}
		if got := c.ConnectionState().NegotiatedProtocol; got != "x/2" {
			t.Fatalf("after a reload: ALPN %q, want x/2", got)
		}
		if got := store.Leaves()[0].DNSNames[1]; got != "second.test" {
			t.Errorf("Leaves()[0] is %s", got)
		}
		old.Write([]byte("still here"))
		if got := readFull(t, old, 10); string(got) != "still here" {
			t.Fatalf("the connection from before the reload echoed %q", got)
		}
	})
}

// TestStoreClientCA: Source.ClientCA turns on mutual TLS.
func TestStoreClientCA(t *testing.T) {
	p := thePKI(t)
	dir := t.TempDir()
	server := writePair(t, dir, "server", p.issue(t, certOpts{}))
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pemCert(p.caCert), 0o600)
	store, err := NewStore(Source{Certs: []KeyPair{server}, ClientCA: ca})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, engine.Reactor, Config{TLS: store.Config()}, engine.Config{}, newTH())
	ccfg := clientConfig(t)
	ccfg.Certificates = []tls.Certificate{p.issue(t, certOpts{client: true})}
	c := dialTLS(t, s.addr, ccfg)
	c.Write([]byte("ok"))
	readFull(t, c, 2)
	ccfg.Certificates = nil
	if c, err := tryDialTLS(s.addr, ccfg); err == nil {
		if readErr(c) == nil {
			t.Fatal("a client without a certificate was served")
		}
		c.Close()
	}
	eventually(t, "refusal counted", func() bool { return s.h.Stats().Failed.ClientCertificate == 1 })
}

// TestWriteSelfSigned: wharfd -gen-cert's files load, verify for
// localhost and the loopback addresses with themselves as the CA, and are
// not overwritten.
func TestWriteSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	certFile, keyFile, err := WriteSelfSigned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	cert, err := LoadKeyPair(KeyPair{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	roots, err := LoadCertPool(certFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range SelfSignedHosts {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	before, _ := os.ReadFile(certFile)
	if _, _, err := WriteSelfSigned(dir); err == nil {
		t.Error("a second WriteSelfSigned overwrote the files")
	}
	if after, _ := os.ReadFile(certFile); !bytes.Equal(before, after) {
		t.Error("the certificate changed")
	}
	s := startServer(t, engine.Reactor, serverConfig(cert), engine.Config{}, newTH())
	c := dialTLS(t, s.addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	c.Write([]byte("x"))
	readFull(t, c, 1)
}

// TestKernelTLS: KernelTLS agrees with the kernel's list of TCP upper
// layer protocols (this machine's has no "tls": it reports false).
func TestKernelTLS(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp")
	if err != nil {
		if KernelTLS() {
			t.Fatal("KernelTLS true without /proc/sys/net/ipv4/tcp_available_ulp")
		}
		t.Skip("no /proc/sys/net/ipv4/tcp_available_ulp")
	}
	want := strings.Contains(" "+strings.TrimSpace(string(b))+" ", " tls ")
	if got := KernelTLS(); got != want {
		t.Fatalf("KernelTLS() = %v, tcp_available_ulp = %q", got, b)
	}
}
