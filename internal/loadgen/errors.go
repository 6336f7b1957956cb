package loadgen

import "errors"

// Sentinel errors, returned wrapped with details; test with errors.Is.
var (
	// ErrBadAddr is returned by ParseAddrs for an entry that is not HOST:PORT.
	ErrBadAddr = errors.New("loadgen: bad target address")
	// ErrBadRange is returned by ParseSources for an entry that is not an
	// address or a range of addresses, or for too many addresses.
	ErrBadRange = errors.New("loadgen: bad source address range")
	// ErrBadSparse is returned by Histogram.AddSparse for a bucket that no
	// Histogram of this build has, or a negative count.
	ErrBadSparse = errors.New("loadgen: bad sparse histogram")
	// ErrUnsupported is returned off Linux by what needs /proc or rlimits.
	ErrUnsupported = errors.New("loadgen: not supported on this system")
	// ErrBadResponse is wrapped by ReadResponse for bytes that are not an
	// HTTP/1.x response; the http bench counts it as drop:bad_response.
	ErrBadResponse = errors.New("loadgen: bad HTTP response")
)

// ProtocolError is what a bench's OnData returns for bytes that make no
// sense (a framing error, more echoed than was sent); it closes the
// connection, which DropReason names "protocol".
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "wharf-bench: protocol error: " + e.Msg }
