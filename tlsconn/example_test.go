package tlsconn_test

import (
	"fmt"
	"log"

	"wharf/engine"
	"wharf/tlsconn"
)

// echo is any engine.Handler: here, an echo server.
type echo struct{ engine.BaseHandler }

func (echo) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

// Serve a Handler over TLS: the engine's Handler is the tlsconn.Handler,
// which gives the inner one decrypted connections.
func ExampleNewHandler() {
	store, err := tlsconn.NewStore(tlsconn.Source{
		Certs: []tlsconn.KeyPair{{Cert: "/etc/wharf/cert.pem", Key: "/etc/wharf/key.pem"}},
		ALPN:  []string{"wharf"},
	})
	if err != nil {
		log.Fatal(err) // names the file that failed
	}
	h, err := tlsconn.NewHandler(tlsconn.Config{TLS: store.Config()}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	e, err := engine.New(engine.Config{}, h)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.Listen("tcp://:7443"); err != nil {
		log.Fatal(err)
	}
	log.Fatal(e.Serve())
}

// The inner Handler reads the negotiated parameters from its Conn.
func ExampleConnectionState() {
	var c engine.Conn // the Conn an inner Handler was given
	if st, ok := tlsconn.ConnectionState(c); ok {
		fmt.Println(st.NegotiatedProtocol, len(st.PeerCertificates))
	}
}

// Reload swaps the certificates for new handshakes; on error the old ones
// keep serving.
func ExampleStore_Reload() {
	src := tlsconn.Source{Certs: []tlsconn.KeyPair{{Cert: "cert.pem", Key: "key.pem"}}}
	store, err := tlsconn.NewStore(src)
	if err != nil {
		log.Fatal(err)
	}
	// On SIGHUP:
	if err := store.Reload(src); err != nil {
		log.Printf("keeping the old certificates: %v", err)
	}
}

// wharfd -gen-cert DIR.
func ExampleWriteSelfSigned() {
	certFile, keyFile, err := tlsconn.WriteSelfSigned("./tls")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(certFile, keyFile)
}
