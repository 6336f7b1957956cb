package tlsconn

import "errors"

var (
	// ErrNotTLS closes a connection whose first bytes are not a TLS
	// record (plaintext sent to a TLS port); Stats count it as
	// Failures.NotTLS.
	ErrNotTLS = errors.New("tlsconn: first bytes are not a TLS record (plaintext to a TLS port?)")
	// ErrSSLv2 closes a connection that opened with an SSL 2.0
	// ClientHello; Stats count it as Failures.ProtocolVersion.
	ErrSSLv2 = errors.New("tlsconn: SSL 2.0 ClientHello refused")
	// ErrNoConfig is returned by NewHandler without Config.TLS.
	ErrNoConfig = errors.New("tlsconn: Config.TLS is nil")
	// ErrNoCertificate is returned by NewStore and Reload when the Source
	// names no certificate.
	ErrNoCertificate = errors.New("tlsconn: no certificate configured")
)

// errWouldBlock is what the record transport's Read returns on the loop
// when the raw connection has no more bytes buffered. crypto/tls does not
// keep a temporary net.Error sticky: it leaves a partial record in its
// input buffer and returns the error from Read, so the next Read resumes.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsconn: no more buffered bytes (would block)" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// errCloseNotify stands for io.EOF from tls.Conn.Read (the peer's
// close_notify) while the plaintext is read with buffer.ReadFrom, which
// takes io.EOF as the end of what is available.
var errCloseNotify = errors.New("tlsconn: close_notify received")
