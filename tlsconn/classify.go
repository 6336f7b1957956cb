package tlsconn

// opening is what a connection's first bytes say about it.
type opening uint8

const (
	openingPartial opening = iota // too few bytes to tell yet
	openingTLS                    // a TLS record header crypto/tls may accept
	openingSSLv2                  // an SSL 2.0 (or SSLv2-compatible) ClientHello
	openingNotTLS                 // anything else: plaintext to a TLS port
)

func (o opening) String() string {
	switch o {
	case openingPartial:
		return "partial"
	case openingTLS:
		return "tls"
	case openingSSLv2:
		return "sslv2"
	}
	return "not_tls"
}

// TLS record constants (RFC 8446 section 5.1).
const (
	recordHeaderLen     = 5
	recordTypeAlert     = 0x15
	recordTypeHandshake = 0x16
	// maxCiphertext is the largest record length TLS 1.2 allows
	// (2^14 + 2048); crypto/tls refuses longer ones.
	maxCiphertext = 1<<14 + 2048
)

// classifyOpening looks at the first bytes of a connection, before any
// goroutine or tls.Conn is spent on it. A TLS client starts with a
// handshake record: type 22, version 3.x (3.1 in practice, 3.0 to 3.4 are
// seen), a length from 1 to 2^14+2048. An alert record is let through as
// well: crypto/tls accepts one first and reports it. An SSL 2.0 hello has
// the top bit of its first byte set and message type 1 in its third.
// Everything else (an HTTP request, a packet-protocol header, a port
// scanner's probe) is plaintext. The answer for a prefix never changes
// once it is not openingPartial, so classifying as bytes trickle in is
// safe.
func classifyOpening(b []byte) opening {
	if len(b) == 0 {
		return openingPartial
	}
	switch {
	case b[0] == recordTypeHandshake || b[0] == recordTypeAlert:
		if len(b) < 2 {
			return openingPartial
		}
		if b[1] != 3 {
			return openingNotTLS
		}
		if len(b) < 3 {
			return openingPartial
		}
		if b[2] > 4 {
			return openingNotTLS
		}
		if len(b) < recordHeaderLen {
			return openingPartial
		}
		if n := int(b[3])<<8 | int(b[4]); n == 0 || n > maxCiphertext {
			return openingNotTLS
		}
		return openingTLS
	case b[0]&0x80 != 0:
		if len(b) < 3 {
			return openingPartial
		}
		if b[2] == 1 { // SSL 2.0 CLIENT-HELLO
			return openingSSLv2
		}
	}
	return openingNotTLS
}
