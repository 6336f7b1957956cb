// Package h1 implements the HTTP/1.1 message syntax of RFC 9112 (and the
// parts of RFC 9110 it relies on) for wharf's HTTP server: a request-head
// parser, a chunked-body decoder, and helpers that write status lines,
// Date fields, chunks and error responses.
//
// It is written for event loops. The server keeps each connection's
// inbound bytes in the connection's own buffer and parses them where they
// lie, so the parser is:
//
//   - zero-copy: every []byte it returns is a subslice of its input;
//   - allocation-free in the steady state (only growing Request.Headers
//     allocates, once per Request);
//   - incremental: it tells "need more bytes" (ErrIncomplete) from "bad
//     request" (*Error) on any prefix, cheaply, and without state between
//     calls for heads (a head is rescanned from the start, which costs less
//     than the bookkeeping would) and with a small state machine for bodies;
//   - strict wherever leniency lets two HTTP implementations disagree about
//     where a message ends, which is how requests are smuggled.
//
// It imports only the standard library, and not net/http.
//
// # Parsing a request head
//
// ParseRequest parses the head at the start of a buffer into a Request:
//
//	n, err := h1.ParseRequest(inbound, &req, limits)
//	switch {
//	case err == h1.ErrIncomplete:
//		// wait for more bytes; inbound is never more than the limits
//	case err != nil:
//		// err is an *h1.Error: write AppendError(Status, Reason), close
//	default:
//		// the head is inbound[:n]; the body or the next pipelined
//		// request starts at inbound[n]
//	}
//
// The Request's slices alias inbound, so they are valid until those bytes
// are consumed or the buffer is compacted; copy what must outlive that.
// A Request and the buffer belong to one goroutine at a time (the
// connection's event loop); reuse the Request for every request of the
// connection. On error the Request's contents are unspecified.
//
// The framing the caller applies after the head (RFC 9112 §6.3): if
// Chunked, decode the body with a ChunkedDecoder; otherwise the body is
// ContentLength bytes, or none when ContentLength is -1 (a request
// without either has no body). Close says the connection must close after
// the response; ExpectContinue that the client waits for a 100 Continue
// (or a final status) before sending the body; Upgrade that the client
// asked to switch protocols.
//
// # Limits
//
// Limits bound the request line (default 8 KiB, 414 URI Too Long), the
// whole head (64 KiB, 431 Request Header Fields Too Large) and the number
// of field lines (100, 431). A limit is enforced as soon as the bytes
// present exceed it, complete head or not, so neither a slowloris nor a
// giant head makes the server buffer more than the limit.
//
// # Which error, and when
//
// The parser checks the head left to right. Each check is made as soon as
// the bytes it needs are present, and ParseRequest returns the first
// failure in that order; a limit counts as failing at the first byte past
// it. Checks that span field lines (Host present, Content-Length against
// Transfer-Encoding, the transfer-coding list) run once the head is
// complete, in a fixed order. So the answer for a byte stream does not
// depend on how it was split into reads: every prefix is either
// ErrIncomplete or already the final answer. The fuzz tests hold the
// parser to this.
//
// # The rules
//
// Line endings (RFC 9112 §2.2). Lines end in CRLF. A bare LF is accepted
// as a line terminator in the head (the MAY of §2.2); a CR not followed by
// LF anywhere in the head is a 400. Up to two empty lines before the
// request line are skipped (§2.2 asks servers to ignore at least one, as
// some clients send CRLF after a POST body); a third is a 400. Their bytes
// count in n.
//
// Request line (§3). method SP request-target SP HTTP-version, with
// exactly one SP between the parts and nothing before or after: any other
// whitespace is a 400. The method is a token (RFC 9110 §9.1), compared
// case-sensitively by the caller.
//
// Request target (§3.2). Only visible ASCII, 0x21 to 0x7E, is allowed:
// no whitespace, controls or bytes >= 0x80 (raw UTF-8 is a 400; clients
// percent-encode it). Every '%' must start a %HH escape. A '#' is a 400,
// since a fragment is not part of a request-target and a proxy that strips
// it would route a different path than we serve. The four forms:
//
//   - origin-form "/path?query" (§3.2.1), for any method but CONNECT;
//   - absolute-form "http://host/path?query" (§3.2.2), any method but
//     CONNECT. Only the http and https schemes (case-insensitive) are
//     accepted: this is an origin server, not a proxy. The authority must
//     have a non-empty host (RFC 9110 §4.2.1) and no userinfo (§4.2.4
//     says to treat it as an error). The authority of the target wins over
//     the Host field (§3.2.2): Host keeps the field as sent, and
//     Request.Authority returns the target's;
//   - authority-form "host:port" (§3.2.3), for CONNECT only, which may use
//     no other form; the port is required;
//   - asterisk-form "*" (§3.2.4), for OPTIONS only.
//
// Anything else is a 400. Request.Form says which form was used.
//
// Version (§2.3). "HTTP/" DIGIT "." DIGIT, case-sensitive. HTTP/1.0 and
// HTTP/1.1 are served; HTTP/1.2 to HTTP/1.9 are served as HTTP/1.1 (RFC
// 9110 §2.5: a higher minor version of a supported major is processed as
// the highest minor version supported), with Proto as sent and Minor 1.
// Any other major version, including the HTTP/2 connection preface, is a
// 505; anything malformed (two digits, lower case, missing) is a 400.
//
// Field lines (§5). field-name ":" OWS field-value OWS. The name is a
// non-empty token (RFC 9110 §5.1), followed at once by the colon:
// whitespace before the colon is a 400 (§5.1: it has been used to smuggle,
// e.g. "Transfer-Encoding : chunked", which some proxies ignore and others
// honour). A line starting with SP or HTAB is obs-fold and a 400 (§5.2
// allows rejecting it, and unfolding differently from a proxy is another
// smuggling vector); so is whitespace between the request line and the
// first field. The value may hold VCHAR, obs-text (0x80 to 0xFF), SP and
// HTAB (RFC 9110 §5.5); any other control, NUL and DEL included, is a 400.
// Leading and trailing OWS is removed from Header.Value. Field lines are
// kept in order, names as sent.
//
// Content-Length (§6.3, RFC 9110 §8.6). 1*DIGIT, at most 2^63-1: signs,
// spaces inside, hex and overflow are a 400. Several Content-Length lines,
// or a comma-separated list (which some intermediaries produce by
// combining lines), are accepted only if every value is textually
// identical; otherwise a 400.
//
// Transfer-Encoding (§6.1, §6.3, §7). The codings of every
// Transfer-Encoding line form one list. Codings are case-insensitive
// tokens (HTAB is OWS, so "Transfer-Encoding:\tchunked" is chunked). It
// is a 400 when:
//
//   - the request is HTTP/1.0 (§6.1: the framing is faulty);
//   - a Content-Length is present too (§6.3 allows ignoring the
//     Content-Length, but the combination is the classic request-smuggling
//     setup, so we refuse it);
//   - chunked appears more than once, or is not the final coding (§6.3:
//     the length cannot be determined), including a list without it, such
//     as "xchunked" or "identity";
//   - the list is malformed: an element that is not a token (with
//     parameters, for codings other than chunked), chunked with
//     parameters, or an empty element. RFC 9110 §5.6.1 says recipients must
//     skip empty elements; we refuse them in this one field, because a
//     proxy that does not skip them would disagree with us on the framing.
//
// Otherwise, if another coding precedes chunked ("gzip, chunked"), it is a
// 501 Not Implemented (§6.1); only chunked is supported.
//
// Host (§3.2, RFC 9110 §7.2). An HTTP/1.1 request must have exactly one
// Host line, and any request more than one: else a 400. The value must be
// uri-host [":" port]: a reg-name of unreserved and sub-delims characters
// (no percent-encoding), or a bracketed IPv6 address with an optional RFC
// 6874 zone; the port digits only. It may be empty (§7.2, for targets
// without an authority). Whitespace, '@', '/' and the like are a 400: the
// Host picks a virtual host and often ends up in URLs and cache keys.
//
// Connection (§9.3, RFC 9110 §7.6.1). A comma-separated, case-insensitive
// list over all Connection lines. "close" means Close; an HTTP/1.1
// connection persists unless closed, an HTTP/1.0 one only with
// "keep-alive". Other options (header names) are ignored here.
//
// Upgrade (RFC 9110 §7.8). Upgrade is set when an HTTP/1.1 request has
// both the "upgrade" connection option and a non-empty Upgrade field; it is
// never set for HTTP/1.0, whose Upgrade field a server must ignore.
//
// Expect (RFC 9110 §10.1.1). Every expectation must be "100-continue"
// (case-insensitive), which sets ExpectContinue for HTTP/1.1 (an HTTP/1.0
// one must be ignored); any other expectation is a 417. An empty Expect is
// ignored.
//
// # Chunked bodies
//
// ChunkedDecoder decodes the chunked transfer coding (§7.1) from the bytes
// after the head, incrementally: Next consumes chunk lines and returns
// chunk data as subslices of its input, leaving an incomplete line
// unconsumed for the next call. Its rules:
//
//   - chunk-size is 1*HEXDIG, at most 2^63-1; an empty size, a sign, "0x",
//     or whitespace before the size is a 400. Whitespace after the size is
//     allowed only before a ';' (BWS).
//   - chunk extensions, *( BWS ";" BWS name [ BWS "=" BWS value ] ) with
//     token names and token or quoted-string values, are checked and
//     skipped; the whole line is bounded by MaxChunkLine (default 4 KiB).
//   - every line in the body, and the end of chunk data, must be exactly
//     CRLF. A bare LF is a 400 here, unlike in the head: RFC 9112 §2.2
//     allows it only for the start line and header fields (erratum 7633),
//     and accepting it next to a proxy that treats it as part of a chunk
//     extension lets a request be smuggled (CVE-2025-22871, fixed the same
//     way in net/http).
//   - the last chunk ("0", any number of zeros, optional extensions) is
//     followed by the trailer section (§7.1.2): field lines under the same
//     rules as the head, bounded by MaxTrailerBytes (default 8 KiB, else a
//     431), then CRLF. The body ends exactly there: "0\r\n\r\n" is the end,
//     and whatever follows is the next request.
//   - the non-data bytes of a body are bounded as net/http bounds them, so
//     that kilobytes of extensions cannot ride on each byte of data past a
//     body-size limit that counts only data.
//
// Trailer fields are validated and reported through OnTrailer, if set;
// whether to use them is the server's business (RFC 9110 §6.5.1).
//
// # Writing responses
//
// AppendStatusLine writes "HTTP/1.1 200 OK\r\n" from precomputed lines.
// DateCache formats the Date field (RFC 9110 §6.6.1) once per second and
// is safe for concurrent use, so one can serve every event loop.
// AppendChunk and AppendLastChunk write the chunked coding. ValidHeaderName
// and ValidHeaderValue check fields set by handlers before they are
// written: a value with CR or LF would let a handler that echoes client
// input split the response. AppendError writes a whole minimal error
// response that closes the connection, for the *Error values above.
//
// # Differences from net/http
//
// The tests parse the valid corpus with net/http.ReadRequest too and
// require the same method, target, version, fields, Host, framing and
// Close. Deliberate differences (TestDifferentialNetHTTP lists each case):
//
//   - stricter, where net/http's ReadRequest accepts: obs-fold (net/http
//     unfolds); whitespace before a colon (net/http keeps a field named
//     "Transfer-Encoding " that a proxy may read as Transfer-Encoding);
//     Content-Length together with Transfer-Encoding (net/http ignores the
//     Content-Length); Transfer-Encoding in HTTP/1.0 (net/http ignores it);
//     fragments, raw non-ASCII bytes, schemes other than http and https,
//     userinfo and empty hosts in the target; target forms not allowed for
//     the method, including net/rpc's "CONNECT /path"; the syntax of Host
//     (net/http checks only its characters);
//   - checked here, by net/http's server instead of ReadRequest: limits,
//     a missing or repeated Host, unsupported expectations (417) and
//     versions other than 1.x (505);
//   - more lenient: up to two empty lines before the request line, and an
//     identical Content-Length list ("5, 5"), both of which net/http
//     rejects; HTTP/1.2 to 1.9 are reported as Minor 1, not as sent.
package h1
