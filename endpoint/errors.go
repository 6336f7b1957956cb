package endpoint

import (
	"errors"
	"strconv"
)

// ErrInvalid is matched (errors.Is) by every *Error.
var ErrInvalid = errors.New("endpoint: invalid address")

// Error is a malformed address, the only error Parse returns. Callers that
// locate the address themselves (a config file's key and line) print
// Input and Reason in their own words; Error() reads
//
//	endpoint: "tcp://:70000": port "70000" is not a number from 0 to 65535
type Error struct {
	Input  string // the address as given
	Reason string // what is wrong with it, e.g. "missing socket path"
}

func (e *Error) Error() string {
	if e.Input == "" {
		return "endpoint: " + e.Reason
	}
	return "endpoint: " + strconv.Quote(e.Input) + ": " + e.Reason
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }
