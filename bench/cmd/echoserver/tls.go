package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"

	ltls "github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	ntls "github.com/lesismal/nbio/extension/tls"

	"wharf/engine"
	"wharf/tlsconn"
)

// The TLS echo servers (-impl *-tls) serve this certificate.
var (
	certFile = flag.String("cert", "", "certificate PEM file for the *-tls implementations")
	keyFile  = flag.String("key", "", "private key PEM file for the *-tls implementations")
)

func stdCert() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return nil, fmt.Errorf("-cert/-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// serveWharfTLS is the raw echo behind package tlsconn: the handshake on
// a goroutine, records on the loop.
func serveWharfTLS(addr string, loops int, cfg engine.Config) (func(), error) {
	tc, err := stdCert()
	if err != nil {
		return nil, err
	}
	h, err := tlsconn.NewHandler(tlsconn.Config{TLS: tc}, wharfEcho{})
	if err != nil {
		return nil, err
	}
	return serveWharfHandler(addr, loops, cfg, h)
}

// serveNetTLS is what net/http does for TLS: crypto/tls on a goroutine per
// connection.
func serveNetTLS(addr string, _ int) (func(), error) {
	tc, err := stdCert()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go serveEchoConns(tls.NewListener(ln, tc))
	return func() { ln.Close() }, nil
}

// serveNbioTLS is nbio's TLS (its fork of crypto/tls, llib) on its event
// loop, as nbio's examples do it.
func serveNbioTLS(addr string, loops int) (func(), error) {
	cert, err := ltls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return nil, fmt.Errorf("-cert/-key: %w", err)
	}
	cfg := &ltls.Config{Certificates: []ltls.Certificate{cert}, MinVersion: ltls.VersionTLS12}
	e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{addr}, NPoller: loops})
	e.OnOpen(ntls.WrapOpen(cfg, false, nil))
	e.OnClose(ntls.WrapClose(nil))
	e.OnData(ntls.WrapData(func(c *nbio.Conn, tc *ntls.Conn, data []byte) { tc.Write(data) }))
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e.Stop, nil
}
