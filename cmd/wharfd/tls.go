package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"wharf/config"
	"wharf/engine"
	"wharf/server"
	"wharf/supervisor"
	"wharf/tlsconn"
)

// tlsSource is what a TLS listener loads from the [tls] table: the packet
// listeners offer alpn and ask for client certificates when client_ca is
// set; HTTPS offers http/1.1 and asks for none.
func tlsSource(c config.TLS, https bool) tlsconn.Source {
	src := tlsconn.Source{Certs: []tlsconn.KeyPair{{Cert: c.Cert, Key: c.Key}}, MinVersion: tls.VersionTLS12}
	for _, entry := range c.SNICerts {
		cert, key := config.SNIPair(entry)
		src.Certs = append(src.Certs, tlsconn.KeyPair{Cert: cert, Key: key})
	}
	if c.MinVersion == "1.3" {
		src.MinVersion = tls.VersionTLS13
	}
	if https {
		src.ALPN = []string{"http/1.1"}
	} else {
		src.ALPN = c.ALPN
		src.ClientCA = c.ClientCA
	}
	return src
}

// tlsTransport serves the packet protocol on the tls:// listeners: an
// engine of its own (the TCP engine's settings) whose Handler is the TLS
// layer around the server's. It is a server.Transport named "tls", so
// Broadcast, Online, Stats and Shutdown include its connections.
type tlsTransport struct {
	e *engine.Engine
	h *tlsconn.Handler
}

var _ server.Transport = (*tlsTransport)(nil)

func (t *tlsTransport) Name() string { return "tls" }

// Each runs fn for every connection whose handshake is done (the server's
// connections); those still handshaking are not the server's yet.
func (t *tlsTransport) Each(fn func(c engine.Conn)) {
	t.e.Each(func(raw engine.Conn) {
		if l, ok := engine.LayeredOf(raw); ok {
			fn(l)
		}
	})
}

func (t *tlsTransport) StopAccepting()                     { t.e.StopAccepting() }
func (t *tlsTransport) Shutdown(ctx context.Context) error { return t.e.Shutdown(ctx) }
func (t *tlsTransport) Stats() engine.Stats                { return t.e.Stats() }

// startTLS serves the packet server on the tls:// listeners of [server]
// listen.
func (in *instance) startTLS(env *supervisor.Env) error {
	var addrs []string
	for _, a := range in.cfg.Server.Listen {
		if a.Scheme == "tls" {
			addrs = append(addrs, a.String())
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	store, err := tlsconn.NewStore(tlsSource(in.cfg.TLS, false))
	if err != nil {
		return err
	}
	h, err := tlsconn.NewHandler(tlsconn.Config{
		TLS:              store.Config(),
		HandshakeTimeout: time.Duration(in.cfg.TLS.HandshakeTimeout),
		Logger:           in.log,
	}, in.srv.Handler())
	if err != nil {
		return err
	}
	e, err := engine.New(in.srv.Config().Engine, h)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		ln, err := env.Listener(addr)
		if err == nil {
			err = e.AddListener(ln)
		}
		if err != nil {
			e.Shutdown(context.Background()) // releases the loops' descriptors
			return fmt.Errorf("wharfd: tls on %s: %w", addr, err)
		}
	}
	// From here the server's Shutdown stops it, also if Start fails.
	in.tls = &tlsTransport{e: e, h: h}
	in.srv.Attach(in.tls)
	return e.Start()
}

// logKernelTLS says once per process which TLS path serves.
func logKernelTLS(in *instance) {
	in.log.Info("wharfd: TLS in user space (crypto/tls)", "kernel_tls_available", tlsconn.KernelTLS())
}
