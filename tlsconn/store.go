package tlsconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
)

// KeyPair names a certificate chain and its private key: PEM files.
type KeyPair struct {
	Cert string // the certificate, then its intermediates
	Key  string // the private key (PKCS #1, PKCS #8 or SEC 1)
}

// Source is what a Store loads: files and negotiation settings.
type Source struct {
	// Certs are the certificates to serve; at least one. A handshake gets
	// the first whose names (SANs) match the client's server name (SNI)
	// and whose key the client supports, else the first: crypto/tls's
	// rule for tls.Config.Certificates.
	Certs []KeyPair
	// ClientCA, if set, is a PEM file of CA certificates; clients must then
	// present a certificate one of them issued (mutual TLS).
	ClientCA string
	// MinVersion is the lowest TLS version accepted; default
	// tls.VersionTLS12.
	MinVersion uint16
	// ALPN lists the application protocols offered, most preferred first
	// (tls.Config.NextProtos); default none.
	ALPN []string
}

// Store holds what a TLS listener serves — certificates, the client CA
// pool, versions, ALPN — and swaps it atomically on Reload: a handshake
// uses the set current when it started, and connections already
// established are not touched. Its Config is the tls.Config to serve with.
type Store struct {
	base *tls.Config                // handed out by Config; GetConfigForClient reads cur
	cur  atomic.Pointer[tls.Config] // the current set, built by load
}

// NewStore loads src. Errors name the file that failed.
func NewStore(src Source) (*Store, error) {
	s := &Store{}
	if err := s.Reload(src); err != nil {
		return nil, err
	}
	s.base = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.cur.Load(), nil },
	}
	return s, nil
}

// Reload loads src and makes it current. On error (a file missing or
// unreadable, a key that does not match its certificate) nothing changes
// and the error names the file: a reload with a bad certificate keeps the
// old one serving.
func (s *Store) Reload(src Source) error {
	cfg, err := load(src)
	if err != nil {
		return err
	}
	s.cur.Store(cfg)
	return nil
}

// Config is the tls.Config to give Config.TLS (or a crypto/tls listener):
// each handshake gets the Store's current set through GetConfigForClient.
// Session tickets stay valid across reloads: they are sealed with this
// Config's keys.
func (s *Store) Config() *tls.Config { return s.base }

// Leaves returns the current leaf certificates, in Source order: for
// logging names and expiry.
func (s *Store) Leaves() []*x509.Certificate {
	cfg := s.cur.Load()
	out := make([]*x509.Certificate, 0, len(cfg.Certificates))
	for _, c := range cfg.Certificates {
		out = append(out, c.Leaf)
	}
	return out
}

// load builds one set from src.
func load(src Source) (*tls.Config, error) {
	if len(src.Certs) == 0 {
		return nil, ErrNoCertificate
	}
	cfg := &tls.Config{MinVersion: src.MinVersion, NextProtos: src.ALPN}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	for _, kp := range src.Certs {
		cert, err := LoadKeyPair(kp)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	if src.ClientCA != "" {
		pool, err := LoadCertPool(src.ClientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// LoadKeyPair reads and parses a certificate and its key. Errors name the
// file that failed.
func LoadKeyPair(kp KeyPair) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(kp.Cert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconn: certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(kp.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconn: key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconn: certificate %s with key %s: %w", kp.Cert, kp.Key, err)
	}
	return cert, nil
}

// LoadCertPool reads a PEM file of CA certificates. Errors name the file.
func LoadCertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsconn: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsconn: CA file %s: no PEM certificate in it", file)
	}
	return pool, nil
}
