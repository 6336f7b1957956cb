package tlsconn

import "sync/atomic"

// Stats are a Handler's handshake counters since it was made.
type Stats struct {
	Handshakes  uint64   `json:"handshakes"`  // completed
	Resumed     uint64   `json:"resumed"`     // of the completed, how many resumed a session (a ticket)
	TLS12       uint64   `json:"tls12"`       // completed with TLS 1.2
	TLS13       uint64   `json:"tls13"`       // completed with TLS 1.3
	Handshaking int64    `json:"handshaking"` // running now; each holds a goroutine until it ends
	Failed      Failures `json:"failed"`      // handshakes that did not complete, by reason
}

// Add adds o's counts into s (the Stats of several listeners, or of
// several worker processes).
func (s *Stats) Add(o Stats) {
	s.Handshakes += o.Handshakes
	s.Resumed += o.Resumed
	s.TLS12 += o.TLS12
	s.TLS13 += o.TLS13
	s.Handshaking += o.Handshaking
	f, g := &s.Failed, o.Failed
	f.Timeout += g.Timeout
	f.NotTLS += g.NotTLS
	f.ProtocolVersion += g.ProtocolVersion
	f.BadCertificate += g.BadCertificate
	f.ClientCertificate += g.ClientCertificate
	f.PeerClosed += g.PeerClosed
	f.Closed += g.Closed
	f.Other += g.Other
}

// Failures counts failed handshakes by reason.
type Failures struct {
	Timeout           uint64 `json:"timeout"`            // Config.HandshakeTimeout passed (a slowloris, or a client that stalled)
	NotTLS            uint64 `json:"not_tls"`            // the first bytes were not a TLS record: plaintext to a TLS port
	ProtocolVersion   uint64 `json:"protocol_version"`   // no common version: below Config.TLS.MinVersion, or SSL 2.0
	BadCertificate    uint64 `json:"bad_certificate"`    // the client refused our certificate (expired, unknown authority, wrong name); on a client, the server's did not verify
	ClientCertificate uint64 `json:"client_certificate"` // mutual TLS: the client sent no certificate, or one that does not verify; on a client, the server refused ours
	PeerClosed        uint64 `json:"peer_closed"`        // the peer closed or reset the connection mid-handshake
	Closed            uint64 `json:"closed"`             // we closed it mid-handshake (Shutdown, a limit)
	Other             uint64 `json:"other"`              // anything else crypto/tls refused (no common cipher, a malformed message)
}

// Total is the number of failed handshakes.
func (f Failures) Total() uint64 {
	return f.Timeout + f.NotTLS + f.ProtocolVersion + f.BadCertificate + f.ClientCertificate + f.PeerClosed + f.Closed + f.Other
}

// Each calls fn with each reason's name (Failure.String) and count, in a
// fixed order: for metrics labels.
func (f Failures) Each(fn func(reason string, n uint64)) {
	for r, n := range []uint64{f.Timeout, f.NotTLS, f.ProtocolVersion, f.BadCertificate, f.ClientCertificate, f.PeerClosed, f.Closed, f.Other} {
		fn(Failure(r).String(), n)
	}
}

// Failure is why a handshake failed.
type Failure uint8

// Failure reasons, in the order of the Failures fields.
const (
	FailTimeout Failure = iota
	FailNotTLS
	FailProtocolVersion
	FailBadCertificate
	FailClientCertificate
	FailPeerClosed
	FailClosed
	FailOther
	numFailures
)

var failureNames = [numFailures]string{"timeout", "not_tls", "protocol_version", "bad_certificate", "client_certificate", "peer_closed", "closed", "other"}

func (f Failure) String() string {
	if f < numFailures {
		return failureNames[f]
	}
	return "unknown"
}

// counters are a Handler's Stats, written by handshakes on any goroutine.
type counters struct {
	ok, resumed, tls12, tls13 atomic.Uint64
	handshaking               atomic.Int64
	failed                    [numFailures]atomic.Uint64
}

func (c *counters) stats() Stats {
	f := func(r Failure) uint64 { return c.failed[r].Load() }
	return Stats{
		Handshakes:  c.ok.Load(),
		Resumed:     c.resumed.Load(),
		TLS12:       c.tls12.Load(),
		TLS13:       c.tls13.Load(),
		Handshaking: c.handshaking.Load(),
		Failed: Failures{
			Timeout:           f(FailTimeout),
			NotTLS:            f(FailNotTLS),
			ProtocolVersion:   f(FailProtocolVersion),
			BadCertificate:    f(FailBadCertificate),
			ClientCertificate: f(FailClientCertificate),
			PeerClosed:        f(FailPeerClosed),
			Closed:            f(FailClosed),
			Other:             f(FailOther),
		},
	}
}
