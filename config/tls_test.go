package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a self-signed certificate and its key as PEM files
// in dir and returns their paths.
func writeKeyPair(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

// TestTLSFiles: with a tls:// listener the [tls] files are loaded, and
// each one that fails is reported at its line with what is wrong.
func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir, "a.test")
	bcert, bkey := writeKeyPair(t, dir, "b.test")
	combined := filepath.Join(dir, "b.pem")
	os.WriteFile(combined, []byte(mustReadFile(t, bcert)+mustReadFile(t, bkey)), 0o600)
	good := fmt.Sprintf("[server]\nlisten = \"tls://:7443\"\n[http]\nlisten = [\":8080\", \"tls://:8443\"]\n[tls]\ncert = %q\nkey = %q\nsni_certs = [%q, %q]\nclient_ca = %q\n",
		cert, key, bcert+","+bkey, combined, cert)
	c, err := Parse([]byte(good), "wharf.toml")
	if err != nil {
		t.Fatalf("good files: %v", err)
	}
	if got, want := c.Server.Listen[0].String(), "tls://:7443"; got != want {
		t.Errorf("server.listen[0] = %s, want %s", got, want)
	}
	if c1, k1 := SNIPair(c.TLS.SNICerts[0]); c1 != bcert || k1 != bkey {
		t.Errorf("SNIPair(%q) = %q, %q", c.TLS.SNICerts[0], c1, k1)
	}
	if c2, k2 := SNIPair(combined); c2 != combined || k2 != combined {
		t.Errorf("SNIPair(%q) = %q, %q", combined, c2, k2)
	}

	for _, tc := range []struct {
		name, file, want string
	}{
		{"key of another certificate", fmt.Sprintf("[server]\nlisten = \"tls://:7443\"\n[tls]\ncert = %q\nkey = %q\n", cert, bkey),
			"wharf.toml:4:1: tls.cert: certificate " + fmt.Sprintf("%q with key %q", cert, bkey) + ": tls: "},
		{"broken SNI entry", fmt.Sprintf("[server]\nlisten = \"tls://:7443\"\n[tls]\ncert = %q\nkey = %q\nsni_certs = [%q]\n", cert, key, cert),
			"wharf.toml:6:14: tls.sni_certs[0]: certificate " + fmt.Sprintf("%q with key %q", cert, cert) + ": tls: "},
		{"client CA not PEM", fmt.Sprintf("[server]\nlisten = \"tls://:7443\"\n[tls]\ncert = %q\nkey = %q\nclient_ca = %q\n", cert, key, filepath.Join(dir, "nope.pem")),
			"wharf.toml:6:1: tls.client_ca: open " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
	} {
		_, err := Parse([]byte(tc.file), "wharf.toml")
		// crypto/tls's own message follows the prefix.
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err =\n%v\nwant one line starting\n%s", tc.name, err, tc.want)
		}
	}

	// Without a tls:// listener the files are not read.
	if _, err := Parse([]byte("[tls]\ncert = \"/nonexistent\"\nkey = \"/nonexistent\"\n"), "wharf.toml"); err != nil {
		t.Errorf("files read without a tls:// listener: %v", err)
	}
}

func mustReadFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)) + "\n"
}
