package h1

import (
	"errors"
	"strconv"
)

// ErrIncomplete is returned by ParseRequest and ChunkedDecoder.Next when
// the input ends before the element being parsed (the head, a chunk line,
// the CRLF after chunk data, a trailer line) and nothing in it is invalid
// yet. It is never wrapped, so err == ErrIncomplete is enough. It is not a
// protocol error: read more bytes and call again.
var ErrIncomplete = errors.New("h1: incomplete")

// Error is a protocol error with the status code the server must answer
// with before closing the connection: 400 for malformed syntax, 414, 431
// and (for trailers) 431 for exceeded limits, 417 for an unsupported
// expectation, 501 for an unsupported transfer coding, 505 for an HTTP
// version other than 1.x. Reason is a short, fixed, ASCII explanation that
// is safe to put in a response body (AppendError does).
//
// The parsers return shared, preallocated *Error values so that rejecting
// a request allocates nothing; treat them as read-only.
type Error struct {
	Status int    // HTTP status code to answer with
	Reason string // what was wrong, e.g. "obs-fold header"
}

// Error returns "h1: 400 Bad Request: obs-fold header".
func (e *Error) Error() string {
	return "h1: " + strconv.Itoa(e.Status) + " " + StatusText(e.Status) + ": " + e.Reason
}

func badRequest(reason string) *Error { return &Error{Status: 400, Reason: reason} }

// The errors the parsers return. Each is a distinct value so that tests
// can name the rule that fired; callers should look only at Status.
var (
	// Framing of lines (RFC 9112 §2.2).
	errBareCR             = badRequest("bare CR")
	errLeadingEmptyLines  = badRequest("too many empty lines before the request line")
	errRequestLine        = badRequest("malformed request line")
	errMethod             = badRequest("invalid method")
	errSpaces             = badRequest("extra whitespace in request line")
	errTargetByte         = badRequest("invalid byte in request-target")
	errTargetFragment     = badRequest("fragment in request-target")
	errTargetPercent      = badRequest("invalid percent-encoding in request-target")
	errTargetForm         = badRequest("request-target form not allowed for this method")
	errAbsoluteForm       = badRequest("malformed absolute-form request-target")
	errAuthorityForm      = badRequest("malformed authority-form request-target")
	errVersion            = badRequest("malformed HTTP version")
	errVersionUnsupported = &Error{Status: 505, Reason: "unsupported HTTP version"}
	errURITooLong         = &Error{Status: 414, Reason: "request line too long"}

	// Field lines (RFC 9112 §5).
	errObsFold           = badRequest("obs-fold header")
	errSpaceBeforeColon  = badRequest("whitespace between field name and colon")
	errMissingColon      = badRequest("header line without colon")
	errEmptyName         = badRequest("empty field name")
	errNameByte          = badRequest("invalid byte in field name")
	errValueByte         = badRequest("invalid byte in field value")
	errHeadTooLarge      = &Error{Status: 431, Reason: "request head too large"}
	errTooManyHeaders    = &Error{Status: 431, Reason: "too many header fields"}
	errContentLength     = badRequest("invalid Content-Length")
	errContentLengths    = badRequest("conflicting Content-Length values")
	errTEHTTP10          = badRequest("Transfer-Encoding in an HTTP/1.0 request")
	errTEAndCL           = badRequest("both Transfer-Encoding and Content-Length")
	errTESyntax          = badRequest("malformed Transfer-Encoding")
	errTEChunkedTwice    = badRequest("chunked transfer coding applied more than once")
	errTEChunkedNotLast  = badRequest("chunked is not the final transfer coding")
	errTEUnsupported     = &Error{Status: 501, Reason: "unsupported transfer coding"}
	errHostMissing       = badRequest("missing Host header")
	errHostDuplicate     = badRequest("more than one Host header")
	errHostInvalid       = badRequest("invalid Host header")
	errExpectUnsupported = &Error{Status: 417, Reason: "unsupported expectation"}
	errChunkSize         = badRequest("invalid chunk size")
	errChunkSizeOverflow = badRequest("chunk size overflows int64")
	errChunkExtension    = badRequest("invalid chunk extension")
	errChunkLineTooLong  = badRequest("chunk line too long")
	errChunkBareLF       = badRequest("bare LF in chunked body")
	errChunkDataEnd      = badRequest("chunk data not followed by CRLF")
	errChunkOverhead     = badRequest("chunked body has too much non-data")
	errTrailerTooLarge   = &Error{Status: 431, Reason: "trailer section too large"}
)
