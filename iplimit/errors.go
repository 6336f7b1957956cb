package iplimit

import "errors"

// ErrConfig is wrapped by the errors New and NewConns return for a bad
// configuration; the message names the field.
var ErrConfig = errors.New("iplimit: invalid configuration")
