package tlsconn

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Handler. Every field but TLS has a usable zero value;
// the comment gives the default that zero means.
type Config struct {
	// TLS is the server side of the handshake (required): certificates
	// (Certificates, GetCertificate, or a Store's Config), versions,
	// cipher suites, NextProtos (ALPN), client authentication. NewHandler
	// clones it; a MinVersion of 0 becomes tls.VersionTLS12.
	TLS *tls.Config

	// HandshakeTimeout bounds the handshake, from accept to the client's
	// Finished; default 10s. A connection still handshaking then is
	// closed and counted in Failures.Timeout: a slowloris on the
	// handshake holds a goroutine for at most this long.
	HandshakeTimeout time.Duration

	// PlaintextReply, if set, is written to a client whose first bytes are
	// not a TLS record before its connection closes; default nothing.
	// httpd sets an HTTP 400, as net/http does for an HTTP request sent
	// to an HTTPS port.
	PlaintextReply []byte

	// Logger receives failed handshakes, at most logBurst lines per
	// second (the rest are counted in Stats only); default slog.Default().
	Logger *slog.Logger

	// Client makes the Handler the dialing side: each connection of the
	// engine (those it dials) runs a client handshake (tls.Client) from
	// OnOpen, verified as TLS says (RootCAs, ServerName). An engine that
	// both accepts and dials TLS needs a Handler for each side. Default
	// false: the accepting side.
	Client bool
}

const defaultHandshakeTimeout = 10 * time.Second

// withDefaults returns a copy with zero fields replaced by defaults, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.TLS == nil {
		return c, ErrNoConfig
	}
	if !c.Client && c.TLS.Certificates == nil && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		return c, fmt.Errorf("tlsconn: Config.TLS has no certificate (Certificates, GetCertificate or GetConfigForClient)")
	}
	if c.HandshakeTimeout < 0 {
		return c, fmt.Errorf("tlsconn: Config.HandshakeTimeout must be >= 0, got %v", c.HandshakeTimeout)
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = defaultHandshakeTimeout
	}
	c.TLS = c.TLS.Clone()
	if c.TLS.MinVersion == 0 {
		c.TLS.MinVersion = tls.VersionTLS12
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
