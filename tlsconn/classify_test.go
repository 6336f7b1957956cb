package tlsconn

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"wharf/engine"
)

var openingTests = []struct {
	name string
	in   string
	want opening
}{
	{"empty", "", openingPartial},
	{"handshake type only", "\x16", openingPartial},
	{"handshake 3", "\x16\x03", openingPartial},
	{"handshake 3.1", "\x16\x03\x01", openingPartial},
	{"handshake 3.1 len hi", "\x16\x03\x01\x02", openingPartial},
	{"ClientHello TLS 1.0 record", "\x16\x03\x01\x02\x00\x01", openingTLS},
	{"record version 3.0", "\x16\x03\x00\x00\x30", openingTLS},
	{"record version 3.4", "\x16\x03\x04\x00\x30", openingTLS},
	{"record version 3.5", "\x16\x03\x05\x00\x30", openingNotTLS},
	{"record version 2.0", "\x16\x02\x00\x00\x30", openingNotTLS},
	{"zero length", "\x16\x03\x01\x00\x00", openingNotTLS},
	{"largest length", "\x16\x03\x03\x48\x00", openingTLS},
	{"too long", "\x16\x03\x03\x48\x01", openingNotTLS},
	{"alert first", "\x15\x03\x03\x00\x02", openingTLS},
	{"application data first", "\x17\x03\x03\x00\x10", openingNotTLS},
	{"SSLv2 hello", "\x80\x2e\x01\x00\x02", openingSSLv2},
	{"SSLv2 partial", "\x80\x2e", openingPartial},
	{"high bit, not a hello", "\x80\x2e\x05", openingNotTLS},
	{"HTTP", "GET / HTTP/1.1\r\n", openingNotTLS},
	{"HTTP first byte", "G", openingNotTLS},
	{"packet header", "\x00\x08\x00\x00\x00\x00\x00\x00", openingNotTLS},
	{"SSH", "SSH-2.0-OpenSSH_9.6\r\n", openingNotTLS},
}

func TestClassifyOpening(t *testing.T) {
	for _, tc := range openingTests {
		if got := classifyOpening([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: classifyOpening(%q) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

// FuzzClassifyOpening checks the properties OnData relies on: the answer
// for a prefix never changes once it is not partial, partial needs fewer
// than five bytes, and every record header crypto/tls would take as a
// first record is let through.
func FuzzClassifyOpening(f *testing.F) {
	for _, tc := range openingTests {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := classifyOpening(b)
		if got == openingPartial && len(b) >= recordHeaderLen {
			t.Fatalf("partial with %d bytes: %x", len(b), b)
		}
		for k := 1; k < len(b); k++ {
			if pre := classifyOpening(b[:k]); pre != openingPartial && pre != got {
				t.Fatalf("prefix %x says %v, %x says %v", b[:k], pre, b, got)
			}
		}
		if len(b) >= recordHeaderLen {
			typ, vers, n := b[0], uint16(b[1])<<8|uint16(b[2]), int(b[3])<<8|int(b[4])
			// crypto/tls's first-record test (conn.go, readRecordOrCCS),
			// narrowed to the versions that exist and non-empty records
			// of a legal size.
			acceptable := (typ == recordTypeHandshake || typ == recordTypeAlert) &&
				vers >= 0x0300 && vers <= 0x0304 && n > 0 && n <= maxCiphertext
			if acceptable != (got == openingTLS) {
				t.Fatalf("%x: classified %v, crypto/tls would accept: %v", b[:5], got, acceptable)
			}
		}
	})
}

// TestFailureClassification runs real crypto/tls handshakes that fail in
// each known way and pins the reason their server-side error gets: a Go
// release that changes an error's type or message fails here.
func TestFailureClassification(t *testing.T) {
	p := thePKI(t)
	serverCert := p.issue(t, certOpts{})
	expired := p.issue(t, certOpts{expired: true})
	clientCert := newPKI(t, "another CA").issue(t, certOpts{client: true})
	mtls := func(c *tls.Config) { c.ClientCAs, c.ClientAuth = p.pool, tls.RequireAndVerifyClientCert }
	for _, tc := range []struct {
		name   string
		server func(*tls.Config)
		client func(*tls.Config)
		raw    string // written instead of a client handshake
		want   Failure
	}{
		{name: "no client certificate 1.3", server: mtls, want: FailClientCertificate},
		{name: "no client certificate 1.2", server: mtls, client: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, want: FailClientCertificate},
		{name: "client certificate from another CA", server: mtls, client: func(c *tls.Config) { c.Certificates = []tls.Certificate{clientCert} }, want: FailClientCertificate},
		{name: "client below MinVersion", client: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, want: FailProtocolVersion},
		{name: "client refuses an unknown CA", client: func(c *tls.Config) { c.RootCAs = nil }, want: FailBadCertificate},
		{name: "client refuses an expired certificate", server: func(c *tls.Config) { c.Certificates = []tls.Certificate{expired} }, want: FailBadCertificate},
		{name: "client refuses the name", client: func(c *tls.Config) { c.ServerName = "elsewhere.test" }, want: FailBadCertificate},
		{name: "no common cipher", server: func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
		}, client: func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}, want: FailOther},
		{name: "plaintext", raw: "GET / HTTP/1.1\r\n\r\n", want: FailNotTLS},
		{name: "client gone mid-handshake", raw: "\x16\x03\x01\x02\x00\x01", want: FailPeerClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := &tls.Config{Certificates: []tls.Certificate{serverCert}}
			if tc.server != nil {
				tc.server(scfg)
			}
			ccfg := clientConfig(t)
			if tc.client != nil {
				tc.client(ccfg)
			}
			sc, cc := tcpPair(t) // buffered both ways: net.Pipe deadlocks on crossing writes
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer cc.Close()
				if tc.raw != "" {
					cc.Write([]byte(tc.raw))
					return
				}
				c := tls.Client(cc, ccfg)
				if c.Handshake() == nil {
					c.Read(make([]byte, 1)) // TLS 1.3: the server's verdict comes after
				}
			}()
			err := tls.Server(sc, scfg).Handshake()
			sc.Close()
			<-done
			if err == nil {
				t.Fatal("handshake succeeded")
			}
			if got := classifyFailure(err, false); got != tc.want {
				t.Errorf("classifyFailure(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		cause error
		want  Failure
	}{
		{engine.ErrDeadlineExceeded, FailTimeout},
		{io.EOF, FailPeerClosed},
		{&engine.OpError{Op: "read", Err: syscall.ECONNRESET}, FailPeerClosed},
		{engine.ErrEngineClosed, FailClosed},
		{engine.ErrConnClosed, FailClosed},
	} {
		// crypto/tls returns the transport's error as it is, or wrapped.
		for _, err := range []error{&closedError{tc.cause}, errors.Join(errors.New("tls: wrapped"), &closedError{tc.cause})} {
			if got := classifyFailure(err, false); got != tc.want {
				t.Errorf("classifyFailure(%v) = %v, want %v", err, got, tc.want)
			}
		}
	}
	if s := Failure(200).String(); !strings.Contains(s, "unknown") {
		t.Errorf("Failure(200) = %q", s)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}
