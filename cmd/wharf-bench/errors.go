package main

import "errors"

// errBadResponse is wrapped by readResponse for bytes that are not an
// HTTP/1.x response; http counts it as drop:bad_response.
var errBadResponse = errors.New("wharf-bench: bad HTTP response")

// protocolError is what a subcommand's OnData returns for bytes that make
// no sense (a framing error, more echoed than was sent); it closes the
// connection, which is counted as drop:protocol.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "wharf-bench: protocol error: " + e.msg }
