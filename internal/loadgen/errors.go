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
)
