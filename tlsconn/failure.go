package tlsconn

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"

	"wharf/engine"
)

// TLS alert codes (RFC 8446 section 6) a failed handshake is classified by.
const (
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertAccessDenied           = 49
	alertProtocolVersion        = 70
)

// closedError ends the handshake's input when the raw connection closes
// under it; cause is the error it closed with (io.EOF: the peer closed).
type closedError struct{ cause error }

func (e *closedError) Error() string {
	return "tlsconn: connection closed during the handshake: " + e.cause.Error()
}

func (e *closedError) Unwrap() error { return e.cause }

// classifyFailure says why a handshake failed, from crypto/tls's error.
//
// When the raw connection closed under the handshake, the error carries a
// *closedError with the close's cause. Otherwise it is crypto/tls's own,
// which gives types for some failures only: a remote alert is a
// *net.OpError{Op: "remote error"} whose Err is its unexported alert type
// (a uint8, read here by reflection), a client certificate that does not
// verify is a *tls.CertificateVerificationError, a non-TLS record a
// tls.RecordHeaderError. Two local failures exist only as messages: no
// common version, and mutual TLS without a client certificate. They are
// matched as text; TestFailureClassification pins each case, so a Go
// release that rewords them fails the test instead of moving the counts
// to Other silently.
//
// On the client side (client true) the two certificate reasons swap:
// a certificate that does not verify is the server's, and a certificate
// alert from the peer refuses our client certificate.
func classifyFailure(err error, client bool) Failure {
	r := classifyServerFailure(err)
	if client {
		switch r {
		case FailBadCertificate:
			r = FailClientCertificate
		case FailClientCertificate:
			r = FailBadCertificate
		}
	}
	return r
}

func classifyServerFailure(err error) Failure {
	var ce *closedError
	if errors.As(err, &ce) {
		var oe *engine.OpError
		switch {
		case errors.Is(ce.cause, engine.ErrDeadlineExceeded):
			return FailTimeout
		case ce.cause == io.EOF, errors.As(ce.cause, &oe): // a FIN, a reset
			return FailPeerClosed
		}
		return FailClosed
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		if v := reflect.ValueOf(oe.Err); v.Kind() == reflect.Uint8 {
			switch v.Uint() {
			case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked,
				alertCertificateExpired, alertCertificateUnknown, alertUnknownCA, alertAccessDenied:
				return FailBadCertificate
			case alertProtocolVersion:
				return FailProtocolVersion
			}
		}
		return FailOther
	}
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	switch msg := err.Error(); {
	case errors.As(err, &cve):
		return FailClientCertificate
	case errors.As(err, &rhe):
		return FailNotTLS
	case strings.Contains(msg, "didn't provide a certificate"):
		return FailClientCertificate
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "SSLv2"):
		return FailProtocolVersion
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return FailPeerClosed
	}
	return FailOther
}
