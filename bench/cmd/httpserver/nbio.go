package main

import (
	"context"
	"net/http"

	ltls "github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/nbhttp"
)

// serveNbio runs nbio's HTTP server (nbhttp) on one loop, over TLS with
// its fork of crypto/tls when certFile is set.
func serveNbio(addr, certFile, keyFile string) (func(), error) {
	cfg := nbhttp.Config{Network: "tcp", NPoller: 1, Handler: http.HandlerFunc(helloHandler)}
	if certFile != "" {
		cert, err := ltls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.AddrsTLS = []string{addr}
		cfg.TLSConfig = &ltls.Config{Certificates: []ltls.Certificate{cert}, MinVersion: ltls.VersionTLS12}
	} else {
		cfg.Addrs = []string{addr}
	}
	e := nbhttp.NewEngine(cfg)
	if err := e.Start(); err != nil {
		return nil, err
	}
	return func() { e.Shutdown(context.Background()) }, nil
}
