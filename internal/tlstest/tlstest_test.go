package tlstest

import (
	"crypto/tls"
	"io"
	"testing"

	"wharf/engine"
	"wharf/tlsconn"
)

type echo struct{ engine.BaseHandler }

func (echo) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

// TestServe: a client trusting Roots reaches Serve's listener for
// localhost, and WriteKeyPair's files load.
func TestServe(t *testing.T) {
	addr := Serve(t, echo{})
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: Roots(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hi" {
		t.Fatalf("echo %q, %v", b, err)
	}
	cert, key := WriteKeyPair(t, t.TempDir(), "x", "x.test")
	if _, err := tlsconn.LoadKeyPair(tlsconn.KeyPair{Cert: cert, Key: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconn.LoadCertPool(CAFile(t)); err != nil {
		t.Fatal(err)
	}
}
