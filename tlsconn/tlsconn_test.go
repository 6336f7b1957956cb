package tlsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"wharf/engine"
)

// TestEcho: a Go crypto/tls client talks to the inner handler over every
// engine kind, TLS version and key type; the inner handler sees the
// negotiated state; the handshake is counted.
func TestEcho(t *testing.T) {
	p := thePKI(t)
	ecdsaCert, rsaCert := p.issue(t, certOpts{}), p.issue(t, certOpts{rsa: true})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, tc := range []struct {
			name    string
			cert    tls.Certificate
			version uint16
		}{
			{"TLS1.3/ECDSA", ecdsaCert, tls.VersionTLS13},
			{"TLS1.3/RSA", rsaCert, tls.VersionTLS13},
			{"TLS1.2/ECDSA", ecdsaCert, tls.VersionTLS12},
			{"TLS1.2/RSA", rsaCert, tls.VersionTLS12},
		} {
			t.Run(tc.name, func(t *testing.T) {
				inner := newTH()
				states := make(chan tls.ConnectionState, 1)
				inner.open = func(c engine.Conn) {
					st, ok := ConnectionState(c)
					if !ok {
						t.Error("ConnectionState: not a TLS connection")
					}
					states <- st
				}
				s := startServer(t, k, serverConfig(tc.cert), engine.Config{}, inner)
				cfg := clientConfig(t)
				cfg.MinVersion, cfg.MaxVersion = tc.version, tc.version
				c := dialTLS(t, s.addr, cfg)
				for _, msg := range []string{"a", "hello", strings.Repeat("x", 100000)} {
					if _, err := c.Write([]byte(msg)); err != nil {
						t.Fatal(err)
					}
					if got := readFull(t, c, len(msg)); string(got) != msg {
						t.Fatalf("echo of %d bytes differs", len(msg))
					}
				}
				st := <-states
				if st.Version != tc.version || !st.HandshakeComplete {
					t.Errorf("inner saw version %x complete=%v, want %x complete", st.Version, st.HandshakeComplete, tc.version)
				}
				if cs := c.ConnectionState(); cs.CipherSuite != st.CipherSuite {
					t.Errorf("server cipher suite %x, client %x", st.CipherSuite, cs.CipherSuite)
				}
				stats := s.h.Stats()
				want := Stats{Handshakes: 1}
				if tc.version == tls.VersionTLS13 {
					want.TLS13 = 1
				} else {
					want.TLS12 = 1
				}
				if stats != want {
					t.Errorf("Stats = %+v, want %+v", stats, want)
				}
			})
		}
	})
}

// TestSNI: the certificate follows the client's server name; an unknown
// or absent name gets the first.
func TestSNI(t *testing.T) {
	p := thePKI(t)
	a := p.issue(t, certOpts{names: []string{"a.test"}})
	b := p.issue(t, certOpts{names: []string{"b.test", "*.b.test"}})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		s := startServer(t, k, serverConfig(a, b), engine.Config{}, newTH())
		for _, tc := range []struct{ sni, want string }{
			{"a.test", "a.test"},
			{"b.test", "b.test"},
			{"x.b.test", "b.test"},
			{"other.test", "a.test"},
			{"", "a.test"},
		} {
			cfg := &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true}
			c := dialTLS(t, s.addr, cfg)
			if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != tc.want {
				t.Errorf("SNI %q got the certificate for %q, want %q", tc.sni, got, tc.want)
			}
			c.Close()
		}
	})
}

// TestALPN: the protocol both sides prefer is negotiated and the inner
// handler sees it.
func TestALPN(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		inner := newTH()
		protos := make(chan string, 1)
		inner.open = func(c engine.Conn) {
			st, _ := ConnectionState(c)
			protos <- st.NegotiatedProtocol
		}
		cfg := serverConfig(cert)
		cfg.TLS.NextProtos = []string{"http/1.1"}
		s := startServer(t, k, cfg, engine.Config{}, inner)
		ccfg := clientConfig(t)
		ccfg.NextProtos = []string{"h2", "http/1.1"}
		c := dialTLS(t, s.addr, ccfg)
		if got := c.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
			t.Errorf("client negotiated %q, want http/1.1", got)
		}
		if got := <-protos; got != "http/1.1" {
			t.Errorf("inner saw %q, want http/1.1", got)
		}
	})
}

// TestMutualTLS: with a client CA, a client certificate it issued is
// accepted and visible to the inner handler; none, or one from another CA,
// is refused and counted.
func TestMutualTLS(t *testing.T) {
	p := thePKI(t)
	serverCert := p.issue(t, certOpts{})
	good := p.issue(t, certOpts{client: true, names: []string{"device-1"}})
	stranger := newPKI(t, "another CA").issue(t, certOpts{client: true})
	expired := p.issue(t, certOpts{client: true, expired: true})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(tls.VersionName(version), func(t *testing.T) {
				inner := newTH()
				peers := make(chan []*x509.Certificate, 1)
				inner.open = func(c engine.Conn) {
					st, _ := ConnectionState(c)
					peers <- st.PeerCertificates
				}
				cfg := serverConfig(serverCert)
				cfg.TLS.ClientCAs = p.pool
				cfg.TLS.ClientAuth = tls.RequireAndVerifyClientCert
				s := startServer(t, k, cfg, engine.Config{}, inner)

				ccfg := clientConfig(t)
				ccfg.MaxVersion = version
				ccfg.Certificates = []tls.Certificate{good}
				c := dialTLS(t, s.addr, ccfg)
				c.Write([]byte("hi"))
				readFull(t, c, 2)
				if got := <-peers; len(got) != 1 || got[0].DNSNames[0] != "device-1" {
					t.Fatalf("inner saw peer certificates %v, want device-1's", got)
				}

				for i, certs := range [][]tls.Certificate{nil, {stranger}, {expired}} {
					ccfg := clientConfig(t)
					ccfg.MaxVersion = version
					ccfg.Certificates = certs
					c, err := tryDialTLS(s.addr, ccfg)
					if err == nil {
						// TLS 1.3: the client finishes before the server
						// checks its certificate; the refusal comes as an
						// alert on the first read.
						err = readErr(c)
						c.Close()
					}
					if err == nil || errors.Is(err, io.EOF) {
						t.Fatalf("client %d: err = %v, want a refusal", i, err)
					}
					eventually(t, "refusal counted", func() bool { return s.h.Stats().Failed.ClientCertificate == uint64(i+1) })
				}
				if st := s.h.Stats(); st.Handshakes != 1 || st.Failed.Total() != 3 {
					t.Errorf("Stats = %+v, want 1 handshake and 3 failures", st)
				}
			})
		}
	})
}

// TestExpiredCertificate: a client refuses an expired server certificate;
// the server counts its refusal as BadCertificate and serves on.
func TestExpiredCertificate(t *testing.T) {
	expired := thePKI(t).issue(t, certOpts{expired: true})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			s := startServer(t, k, serverConfig(expired), engine.Config{}, newTH())
			ccfg := clientConfig(t)
			ccfg.MaxVersion = version
			_, err := tryDialTLS(s.addr, ccfg)
			var cve *tls.CertificateVerificationError
			if !errors.As(err, &cve) {
				t.Fatalf("%s: client err = %v, want a certificate verification error", tls.VersionName(version), err)
			}
			eventually(t, "refusal counted", func() bool { return s.h.Stats().Failed.BadCertificate == 1 })
		}
	})
}

// TestProtocolVersion: a client below MinVersion, or an SSL 2.0 hello, is
// refused and counted.
func TestProtocolVersion(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		s := startServer(t, k, serverConfig(cert), engine.Config{}, newTH())
		ccfg := clientConfig(t)
		ccfg.MinVersion, ccfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		if _, err := tryDialTLS(s.addr, ccfg); err == nil {
			t.Fatal("a TLS 1.1 client was accepted with MinVersion 1.2")
		}
		eventually(t, "refusal counted", func() bool { return s.h.Stats().Failed.ProtocolVersion == 1 })

		c := dialTCP(t, s.addr)
		c.Write([]byte{0x80, 0x2e, 0x01, 0x00, 0x02}) // SSL 2.0 CLIENT-HELLO
		if err := readErr(c); !errors.Is(err, io.EOF) {
			t.Fatalf("SSLv2 hello: read %v, want EOF", err)
		}
		eventually(t, "SSLv2 counted", func() bool { return s.h.Stats().Failed.ProtocolVersion == 2 })
	})
}

// TestPlaintext: bytes that are not TLS are answered with PlaintextReply
// (or nothing), closed, counted, and cost no handshake goroutine.
func TestPlaintext(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	reply := "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		cfg := serverConfig(cert)
		cfg.PlaintextReply = []byte(reply)
		inner := newTH()
		s := startServer(t, k, cfg, engine.Config{}, inner)
		for i, probe := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x00\x10\x00\x00\x00\x00\x00\x00", "\x16\x03\x09\x00\x10", "\x16\x03\x01\x00\x00"} {
			c := dialTCP(t, s.addr)
			c.Write([]byte(probe))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("probe %d: %v", i, err)
			}
			if string(got) != reply {
				t.Fatalf("probe %d: got %q, want the plaintext reply", i, got)
			}
			eventually(t, "probe counted", func() bool { return s.h.Stats().Failed.NotTLS == uint64(i+1) })
		}
		if st := s.h.Stats(); st.Handshakes != 0 || st.Handshaking != 0 || st.Failed.Total() != 4 {
			t.Errorf("Stats = %+v, want 4 NotTLS and no handshake", st)
		}
		select {
		case c := <-inner.opened:
			t.Fatalf("inner handler opened %v for plaintext", c)
		default:
		}
	})
}

// TestHandshakeTimeout: a client that connects and stalls, or trickles a
// ClientHello, is cut at HandshakeTimeout and counted; its goroutine ends.
func TestHandshakeTimeout(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		cfg := serverConfig(cert)
		cfg.HandshakeTimeout = 300 * time.Millisecond
		s := startServer(t, k, cfg, engine.Config{}, newTH())

		start := time.Now()
		silent := dialTCP(t, s.addr)
		trickle := dialTCP(t, s.addr)
		// A record header and the start of a ClientHello, then one byte at
		// a time: each keeps the connection busy, none completes anything.
		trickle.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
					if _, err := trickle.Write([]byte{0}); err != nil {
						return
					}
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
		eventually(t, "the trickle's handshake started", func() bool { return s.h.Stats().Handshaking == 1 })
		for _, c := range []net.Conn{silent, trickle} {
			var ne net.Error
			if err := readErr(c); errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("still open long after the handshake timeout")
			}
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
			t.Errorf("cut after %v, want about the 300ms HandshakeTimeout", d)
		}
		eventually(t, "the goroutine ended", func() bool { return s.h.Stats().Handshaking == 0 })
		// Both count: the silent one never started a handshake, but a
		// connection that holds a slot without one is the same attack.
		eventually(t, "both counted", func() bool { return s.h.Stats().Failed.Timeout == 2 })
		if st := s.h.Stats(); st.Failed.Total() != 2 {
			t.Errorf("Stats = %+v, want two Timeouts", st)
		}
	})
}
