package tlsconn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"wharf/engine"
)

// kinds are the engine backends every test runs on.
var kinds = []engine.Kind{engine.Reactor, engine.Goroutine}

func forEachKind(t *testing.T, f func(t *testing.T, k engine.Kind)) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
}

// pki is a test CA and what it issued.
type pki struct {
	caCert *x509.Certificate
	caKey  crypto.Signer
	pool   *x509.CertPool
}

var (
	testPKIOnce sync.Once
	testPKI     *pki
)

// thePKI is one CA for the whole test binary (key generation is slow).
func thePKI(t testing.TB) *pki {
	testPKIOnce.Do(func() { testPKI = newPKI(t, "wharf test CA") })
	return testPKI
}

func newPKI(t testing.TB, name string) *pki {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &pki{caCert: cert, caKey: key, pool: pool}
}

type certOpts struct {
	rsa      bool
	client   bool // a client certificate (ExtKeyUsageClientAuth)
	expired  bool
	names    []string // DNS names or IPs; default localhost, 127.0.0.1
	notAfter time.Time
}

var serial = struct {
	sync.Mutex
	n int64
}{n: 100}

// issue makes a certificate signed by the CA.
func (p *pki) issue(t testing.TB, o certOpts) tls.Certificate {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.rsa {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: "wharf test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.expired {
		tmpl.NotBefore = time.Now().Add(-48 * time.Hour)
		tmpl.NotAfter = time.Now().Add(-24 * time.Hour)
	}
	names := o.names
	if names == nil {
		names = []string{"localhost", "127.0.0.1"}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writePair writes cert's PEM files into dir and returns their names.
func writePair(t testing.TB, dir, name string, cert tls.Certificate) KeyPair {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	kp := KeyPair{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(kp.Cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp.Key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return kp
}

// server is a TLS engine for a test.
type server struct {
	e     *engine.Engine
	h     *Handler
	inner *th
	addr  string
}

// startServer runs inner over TLS with cfg on an engine of kind k, on a
// loopback port, and shuts it down when the test ends.
func startServer(t *testing.T, k engine.Kind, cfg Config, ecfg engine.Config, inner *th) *server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := NewHandler(cfg, inner)
	if err != nil {
		t.Fatal(err)
	}
	ecfg.Kind = k
	if ecfg.Loops == 0 {
		ecfg.Loops = 2
	}
	ecfg.Logger = cfg.Logger
	e, err := engine.New(ecfg, h)
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
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-e.Done()
		eventually(t, "handshake goroutines gone", func() bool { return h.Stats().Handshaking == 0 })
	})
	return &server{e: e, h: h, inner: inner, addr: a.String()}
}

// serverConfig is a Config serving cert.
func serverConfig(certs ...tls.Certificate) Config {
	return Config{TLS: &tls.Config{Certificates: certs}}
}

// clientConfig trusts the test CA.
func clientConfig(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: thePKI(t).pool, ServerName: "localhost"}
}

// dialTLS connects and handshakes.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tryDialTLS(addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tryDialTLS(addr string, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// th is the inner test handler; it echoes unless data is set.
type th struct {
	open      func(c engine.Conn)
	data      func(c engine.Conn) error
	watermark func(c engine.Conn, high bool)

	opened chan engine.Conn
	closed chan closeEvent
}

type closeEvent struct {
	c   engine.Conn
	err error
}

func newTH() *th {
	return &th{opened: make(chan engine.Conn, 10000), closed: make(chan closeEvent, 10000)}
}

func (h *th) OnOpen(c engine.Conn) {
	if h.open != nil {
		h.open(c)
	}
	h.opened <- c
}

func (h *th) OnData(c engine.Conn) error {
	if h.data != nil {
		return h.data(c)
	}
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

func (h *th) OnClose(c engine.Conn, err error) { h.closed <- closeEvent{c, err} }

func (h *th) OnWatermark(c engine.Conn, high bool) {
	if h.watermark != nil {
		h.watermark(c, high)
	}
}

func (h *th) waitOpen(t *testing.T) engine.Conn {
	t.Helper()
	select {
	case c := <-h.opened:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the inner OnOpen")
	}
	return nil
}

func (h *th) waitClose(t *testing.T) closeEvent {
	t.Helper()
	select {
	case ev := <-h.closed:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the inner OnClose")
	}
	return closeEvent{}
}

// eventually polls cond until it holds or 10s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readFull(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	p := make([]byte, n)
	if _, err := io.ReadFull(c, p); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return p
}

// readErr reads until an error and returns it (nil data is discarded).
func readErr(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var p [512]byte
	for {
		if _, err := c.Read(p[:]); err != nil {
			return err
		}
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
