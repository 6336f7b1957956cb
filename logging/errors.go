package logging

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Compare with errors.Is: most are wrapped
// with the path or the operation that failed.
var (
	// ErrClosed is returned by Handle, Flush and Reopen after Close. A record
	// handed to a closed Logger is written to os.Stderr instead, so late lines
	// from goroutines still running during shutdown are not lost silently.
	ErrClosed = errors.New("logging: logger closed")

	// ErrSpoolBusy is returned by New when another live process holds the
	// spool file (each process needs its own SpoolFile).
	ErrSpoolBusy = errors.New("logging: spool file is in use by another process")

	// ErrSpoolUnsupported is returned by New for a file-backed spool on a
	// platform without the shared-memory support it needs (only Linux has it).
	ErrSpoolUnsupported = errors.New("logging: spool files are not supported on this platform")

	// errSpoolCorrupt marks a spool whose header does not describe a spool this
	// package wrote. New moves such a file aside (SpoolFile+".corrupt") and
	// logs a warning instead of failing.
	errSpoolCorrupt = errors.New("logging: spool file is corrupt")
)

// ConfigError reports a Config field with a bad value. New and
// Config.Validate return it.
type ConfigError struct {
	Field  string // the Config field, e.g. "BufferSize"
	Value  any    // the value found
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("logging: invalid Config.%s %v: %s", e.Field, e.Value, e.Reason)
}
