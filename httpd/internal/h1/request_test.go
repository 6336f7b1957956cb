package h1

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// head joins lines with CRLF and adds the empty line that ends a head.
func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// summary renders what a parsed request means, compactly, for tables:
// "METHOD target proto" then only the attributes that are set.
func summary(r *Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", r.Method, r.Target, r.Proto)
	if string(r.Proto) != fmt.Sprintf("HTTP/%d.%d", r.Major, r.Minor) {
		fmt.Fprintf(&b, " as=%d.%d", r.Major, r.Minor)
	}
	if r.Form != OriginForm {
		fmt.Fprintf(&b, " %v", r.Form)
	}
	if r.ContentLength != -1 {
		fmt.Fprintf(&b, " cl=%d", r.ContentLength)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{r.Chunked, "chunked"}, {r.Close, "close"}, {r.ExpectContinue, "expect"}, {r.Upgrade, "upgrade"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if r.Host != nil {
		fmt.Fprintf(&b, " host=%s", r.Host)
	}
	return b.String()
}

type requestTest struct {
	name string
	in   string // the head; for valid requests n must be len(in)
	lim  Limits
	want string // summary of the request, for valid input
	err  *Error // the rule that must fire, for invalid input
	// netHTTP, for valid input, is why net/http.ReadRequest disagrees, or
	// "" when the differential test must find it agrees.
	netHTTP string
}

// validRequests and invalidRequests are the table tests, the differential
// corpus and the fuzz seeds.
var validRequests = []requestTest{
	{name: "minimal", in: head("GET / HTTP/1.1", "Host: x"), want: "GET / HTTP/1.1 host=x"},
	{name: "bare LF line endings", in: "GET / HTTP/1.1\nHost: x\n\n", want: "GET / HTTP/1.1 host=x"},
	{name: "mixed line endings", in: "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\n", want: "GET / HTTP/1.1 host=x"},
	{name: "HTTP/1.0 without Host closes", in: head("GET /index.html HTTP/1.0"), want: "GET /index.html HTTP/1.0 close"},
	{name: "HTTP/1.0 keep-alive", in: head("GET / HTTP/1.0", "Connection: Keep-Alive"), want: "GET / HTTP/1.0"},
	{name: "HTTP/1.1 Connection close", in: head("GET / HTTP/1.1", "Host: x", "Connection: close"), want: "GET / HTTP/1.1 close host=x"},
	{name: "close wins over keep-alive", in: head("GET / HTTP/1.1", "Host: x", "Connection: keep-alive, CLOSE"), want: "GET / HTTP/1.1 close host=x"},
	{name: "Connection list over lines", in: head("GET / HTTP/1.1", "Host: x", "Connection: te", "Connection: ,close,"), want: "GET / HTTP/1.1 close host=x"},
	{name: "upgrade", in: head("GET /ws HTTP/1.1", "Host: x", "Connection: keep-alive, Upgrade", "Upgrade: websocket"), want: "GET /ws HTTP/1.1 upgrade host=x"},
	{name: "Connection upgrade without Upgrade", in: head("GET / HTTP/1.1", "Host: x", "Connection: upgrade"), want: "GET / HTTP/1.1 host=x"},
	{name: "Upgrade without Connection upgrade", in: head("GET / HTTP/1.1", "Host: x", "Upgrade: websocket"), want: "GET / HTTP/1.1 host=x"},
	{name: "HTTP/1.0 Upgrade ignored", in: head("GET / HTTP/1.0", "Connection: upgrade", "Upgrade: websocket"), want: "GET / HTTP/1.0 close"},
	{name: "expect 100-continue", in: head("PUT /f HTTP/1.1", "Host: x", "Content-Length: 10", "Expect: 100-Continue"), want: "PUT /f HTTP/1.1 cl=10 expect host=x"},
	{name: "HTTP/1.0 expect ignored", in: head("PUT /f HTTP/1.0", "Content-Length: 10", "Expect: 100-continue"), want: "PUT /f HTTP/1.0 cl=10 close"},
	{name: "empty Expect", in: head("GET / HTTP/1.1", "Host: x", "Expect:"), want: "GET / HTTP/1.1 host=x"},
	{name: "Content-Length", in: head("POST /f HTTP/1.1", "Host: x", "Content-Length: 5"), want: "POST /f HTTP/1.1 cl=5 host=x"},
	{name: "Content-Length zero", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 0"), want: "POST / HTTP/1.1 cl=0 host=x"},
	{name: "Content-Length leading zeros", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 007"), want: "POST / HTTP/1.1 cl=7 host=x"},
	{name: "Content-Length max int64", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 9223372036854775807"), want: "POST / HTTP/1.1 cl=9223372036854775807 host=x"},
	{name: "Content-Length OWS", in: head("POST / HTTP/1.1", "Host: x", "Content-Length:\t 5 \t"), want: "POST / HTTP/1.1 cl=5 host=x"},
	{name: "identical Content-Length lines", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 5", "Content-Length: 5"), want: "POST / HTTP/1.1 cl=5 host=x"},
	{name: "identical Content-Length list", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 5, 5,5"), want: "POST / HTTP/1.1 cl=5 host=x", netHTTP: "rejects a Content-Length list"},
	{name: "chunked", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked"), want: "POST / HTTP/1.1 chunked host=x"},
	{name: "chunked any case", in: head("POST / HTTP/1.1", "Host: x", "TRANSFER-ENCODING: Chunked"), want: "POST / HTTP/1.1 chunked host=x"},
	{name: "chunked after HTAB", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding:\tchunked"), want: "POST / HTTP/1.1 chunked host=x"},
	{name: "chunked with trailing OWS", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked \t"), want: "POST / HTTP/1.1 chunked host=x"},
	{name: "underscore is not a hyphen", in: head("POST / HTTP/1.1", "Host: x", "Transfer_Encoding: chunked", "Content-Length: 3"), want: "POST / HTTP/1.1 cl=3 host=x"},
	{name: "one leading empty line", in: "\r\n" + head("GET / HTTP/1.1", "Host: x"), want: "GET / HTTP/1.1 host=x", netHTTP: "does not skip empty lines before the request line"},
	{name: "two leading empty lines", in: "\r\n\n" + head("GET / HTTP/1.1", "Host: x"), want: "GET / HTTP/1.1 host=x", netHTTP: "does not skip empty lines before the request line"},
	{name: "absolute-form", in: head("GET http://example.com/a?b HTTP/1.1", "Host: other"), want: "GET http://example.com/a?b HTTP/1.1 absolute-form host=other"},
	{name: "absolute-form https no path", in: head("GET HTTPS://Example.com:8443 HTTP/1.1", "Host: x"), want: "GET HTTPS://Example.com:8443 HTTP/1.1 absolute-form host=x"},
	{name: "absolute-form query only", in: head("GET http://a.example?q HTTP/1.1", "Host: x"), want: "GET http://a.example?q HTTP/1.1 absolute-form host=x"},
	{name: "CONNECT authority-form", in: head("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), want: "CONNECT example.com:443 HTTP/1.1 authority-form host=example.com:443"},
	{name: "CONNECT IPv6", in: head("CONNECT [::1]:443 HTTP/1.1", "Host: [::1]:443"), want: "CONNECT [::1]:443 HTTP/1.1 authority-form host=[::1]:443"},
	{name: "OPTIONS asterisk", in: head("OPTIONS * HTTP/1.1", "Host: x"), want: "OPTIONS * HTTP/1.1 asterisk-form host=x"},
	{name: "OPTIONS origin-form", in: head("OPTIONS /x HTTP/1.1", "Host: x"), want: "OPTIONS /x HTTP/1.1 host=x"},
	{name: "extension method", in: head("M-SEARCH /x HTTP/1.1", "Host: x"), want: "M-SEARCH /x HTTP/1.1 host=x"},
	{name: "percent-encoding", in: head("GET /a%20b%2F?q=%e2%82%ac HTTP/1.1", "Host: x"), want: "GET /a%20b%2F?q=%e2%82%ac HTTP/1.1 host=x"},
	{name: "visible ASCII target", in: head("GET /!$&'()*+,;=:@-._~?/[]{}|^`\"<>\\ HTTP/1.1", "Host: x"), want: "GET /!$&'()*+,;=:@-._~?/[]{}|^`\"<>\\ HTTP/1.1 host=x"},
	{name: "double slash origin-form", in: head("GET //evil.example/x HTTP/1.1", "Host: x"), want: "GET //evil.example/x HTTP/1.1 host=x"},
	{name: "tchar field name", in: head("GET / HTTP/1.1", "Host: x", "X-!#$%&'*+.^_`|~09: v"), want: "GET / HTTP/1.1 host=x"},
	{name: "obs-text and inner whitespace in value", in: head("GET / HTTP/1.1", "Host: x", "X-Name: caf\xc3\xa9 \t au lait"), want: "GET / HTTP/1.1 host=x"},
	{name: "empty value", in: head("GET / HTTP/1.1", "Host: x", "X-Empty:", "X-Blank: \t "), want: "GET / HTTP/1.1 host=x"},
	{name: "empty Host", in: head("GET / HTTP/1.1", "Host:"), want: "GET / HTTP/1.1 host="},
	{name: "Host with port and IPv6", in: head("GET / HTTP/1.1", "Host: [fe80::1%25eth0]:8080"), want: "GET / HTTP/1.1 host=[fe80::1%25eth0]:8080"},
	{name: "HTTP/1.2 as 1.1", in: head("GET / HTTP/1.2", "Host: x"), want: "GET / HTTP/1.2 as=1.1 host=x", netHTTP: "reports ProtoMinor 2"},
	{name: "exactly MaxHeaders", in: head(append([]string{"GET / HTTP/1.1", "Host: x"}, repeatLines("A: b", 2)...)...), lim: Limits{MaxHeaders: 3}, want: "GET / HTTP/1.1 host=x"},
	{name: "request line exactly MaxRequestLine", in: head("GET /"+strings.Repeat("a", 5)+" HTTP/1.1", "Host: x"), lim: Limits{MaxRequestLine: 19}, want: "GET /aaaaa HTTP/1.1 host=x"},
	{name: "head exactly MaxHeaderBytes", in: head("GET / HTTP/1.1", "Host: x"), lim: Limits{MaxHeaderBytes: 27}, want: "GET / HTTP/1.1 host=x"},
	{name: "typical browser request", in: browserRequest, want: "GET /wharf/assets/app.js?v=3 HTTP/1.1 host=www.example.com"},
}

func repeatLines(line string, n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = line
	}
	return lines
}

// browserRequest is what a desktop browser sends for a script: about 500
// bytes and 12 fields.
var browserRequest = head(
	"GET /wharf/assets/app.js?v=3 HTTP/1.1",
	"Host: www.example.com",
	"Connection: keep-alive",
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
	"sec-ch-ua-mobile: ?0",
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"sec-ch-ua-platform: \"Linux\"",
	"Accept: */*",
	"Sec-Fetch-Site: same-origin",
	"Sec-Fetch-Mode: no-cors",
	"Sec-Fetch-Dest: script",
	"Referer: https://www.example.com/wharf/",
	"Accept-Encoding: gzip, deflate, br, zstd",
	"Accept-Language: en-US,en;q=0.9",
	"Cookie: session=4f9a2c1e7b; theme=dark",
)

var invalidRequests = []requestTest{
	// Line framing, RFC 9112 §2.2.
	{name: "bare CR in request line", in: "GET / HTTP/1.1\rHost: x\r\n\r\n", err: errBareCR},
	{name: "bare CR in method", in: "G\rET / HTTP/1.1\r\n\r\n", err: errBareCR},
	{name: "bare CR in value", in: head("GET / HTTP/1.1", "Host: x", "A: b\rc"), err: errBareCR},
	{name: "bare CR ending value", in: "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\r\n\r\n", err: errBareCR},
	{name: "bare CR as empty line", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n", err: errBareCR},
	{name: "bare CR before request line", in: "\rGET / HTTP/1.1\r\n\r\n", err: errBareCR},
	{name: "three leading empty lines", in: "\r\n\r\n\r\n" + head("GET / HTTP/1.1", "Host: x"), err: errLeadingEmptyLines},

	// Request line, RFC 9112 §3.
	{name: "two spaces after method", in: head("GET  / HTTP/1.1", "Host: x"), err: errSpaces},
	{name: "two spaces after target", in: head("GET /  HTTP/1.1", "Host: x"), err: errSpaces},
	{name: "trailing space", in: head("GET / HTTP/1.1 ", "Host: x"), err: errSpaces},
	{name: "leading space", in: head(" GET / HTTP/1.1", "Host: x"), err: errSpaces},
	{name: "HTAB separator", in: head("GET\t/ HTTP/1.1", "Host: x"), err: errSpaces},
	{name: "non-token method", in: head("GE(T / HTTP/1.1", "Host: x"), err: errMethod},
	{name: "space in target", in: head("GET /a b HTTP/1.1", "Host: x"), err: errVersion},
	{name: "UTF-8 in target", in: head("GET /caf\xc3\xa9 HTTP/1.1", "Host: x"), err: errTargetByte},
	{name: "NUL in target", in: head("GET /\x00 HTTP/1.1", "Host: x"), err: errTargetByte},
	{name: "DEL in target", in: head("GET /\x7f HTTP/1.1", "Host: x"), err: errTargetByte},
	{name: "fragment", in: head("GET /a#b HTTP/1.1", "Host: x"), err: errTargetFragment},
	{name: "bad percent-encoding", in: head("GET /%zz HTTP/1.1", "Host: x"), err: errTargetPercent},
	{name: "truncated percent-encoding", in: head("GET /a%2 HTTP/1.1", "Host: x"), err: errTargetPercent},
	{name: "lower-case version", in: head("GET / http/1.1", "Host: x"), err: errVersion},
	{name: "two-digit minor", in: head("GET / HTTP/1.10", "Host: x"), err: errVersion},
	{name: "short version", in: head("GET / HTTP/1", "Host: x"), err: errVersion},
	{name: "HTTP/2.0", in: head("GET / HTTP/2.0", "Host: x"), err: errVersionUnsupported},
	{name: "HTTP/0.9 version", in: head("GET / HTTP/0.9"), err: errVersionUnsupported},
	{name: "HTTP/3.0", in: head("GET / HTTP/3.0", "Host: x"), err: errVersionUnsupported},
	{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", err: errVersionUnsupported},
	{name: "HTTP/0.9 request", in: "GET /\r\n\r\n", err: errRequestLine},
	{name: "method only", in: "GET\r\n\r\n", err: errRequestLine},
	{name: "empty request line", in: "\r\n\r\n\r\n", err: errLeadingEmptyLines},
	{name: "asterisk for GET", in: head("GET * HTTP/1.1", "Host: x"), err: errTargetForm},
	{name: "asterisk with suffix", in: head("OPTIONS *x HTTP/1.1", "Host: x"), err: errTargetForm},
	{name: "CONNECT origin-form", in: head("CONNECT /x HTTP/1.1", "Host: x"), err: errTargetForm},
	{name: "CONNECT asterisk", in: head("CONNECT * HTTP/1.1", "Host: x"), err: errTargetForm},
	{name: "CONNECT absolute-form", in: head("CONNECT http://x:1/ HTTP/1.1", "Host: x"), err: errAuthorityForm},
	{name: "CONNECT without port", in: head("CONNECT example.com HTTP/1.1", "Host: x"), err: errAuthorityForm},
	{name: "CONNECT empty port", in: head("CONNECT example.com: HTTP/1.1", "Host: x"), err: errAuthorityForm},
	{name: "CONNECT userinfo", in: head("CONNECT u@example.com:1 HTTP/1.1", "Host: x"), err: errAuthorityForm},
	{name: "authority-form for GET", in: head("GET example.com:80 HTTP/1.1", "Host: x"), err: errTargetForm},
	{name: "relative target", in: head("GET a/b HTTP/1.1", "Host: x"), err: errTargetForm},
	{name: "absolute-form ftp", in: head("GET ftp://x/ HTTP/1.1", "Host: x"), err: errAbsoluteForm},
	{name: "absolute-form empty authority", in: head("GET http:///a HTTP/1.1", "Host: x"), err: errAbsoluteForm},
	{name: "absolute-form userinfo", in: head("GET http://u:p@x/ HTTP/1.1", "Host: x"), err: errAbsoluteForm},

	// Field lines, RFC 9112 §5.
	{name: "obs-fold", in: head("GET / HTTP/1.1", "Host: x", "A: b", " c"), err: errObsFold},
	{name: "obs-fold with HTAB", in: head("GET / HTTP/1.1", "Host: x", "A: b", "\tc"), err: errObsFold},
	{name: "whitespace before first field", in: head("GET / HTTP/1.1", " Host: x"), err: errObsFold},
	{name: "space before colon", in: head("GET / HTTP/1.1", "Host : x"), err: errSpaceBeforeColon},
	{name: "HTAB before colon", in: head("GET / HTTP/1.1", "Host\t: x"), err: errSpaceBeforeColon},
	{name: "empty field name", in: head("GET / HTTP/1.1", "Host: x", ": v"), err: errEmptyName},
	{name: "no colon", in: head("GET / HTTP/1.1", "Host: x", "Just-A-Name"), err: errMissingColon},
	{name: "non-token name", in: head("GET / HTTP/1.1", "Host: x", "X(y): z"), err: errNameByte},
	{name: "UTF-8 name", in: head("GET / HTTP/1.1", "Host: x", "F\xc3\xb6: z"), err: errNameByte},
	{name: "NUL in value", in: head("GET / HTTP/1.1", "Host: x", "A: b\x00c"), err: errValueByte},
	{name: "DEL in value", in: head("GET / HTTP/1.1", "Host: x", "A: b\x7f"), err: errValueByte},
	{name: "VT in value", in: head("GET / HTTP/1.1", "Host: x", "A: \x0bb"), err: errValueByte},

	// Content-Length, RFC 9112 §6.3.
	{name: "Content-Length not a number", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: abc"), err: errContentLength},
	{name: "Content-Length negative", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: -5"), err: errContentLength},
	{name: "Content-Length plus sign", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: +5"), err: errContentLength},
	{name: "Content-Length inner space", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 1 2"), err: errContentLength},
	{name: "Content-Length hex", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 0x10"), err: errContentLength},
	{name: "Content-Length empty", in: head("POST / HTTP/1.1", "Host: x", "Content-Length:"), err: errContentLength},
	{name: "Content-Length overflow", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 9223372036854775808"), err: errContentLength},
	{name: "Content-Length leading comma", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: ,5"), err: errContentLength},
	{name: "Content-Length trailing comma", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 5,"), err: errContentLengths},
	{name: "Content-Length list differs", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 5, 6"), err: errContentLengths},
	{name: "Content-Length lines differ", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 5", "Content-Length: 6"), err: errContentLengths},
	{name: "Content-Length lines differ in text", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 5", "Content-Length: 05"), err: errContentLengths},

	// Transfer-Encoding, RFC 9112 §6.1 and §6.3, and the smuggling classics.
	{name: "CL.TE", in: head("POST / HTTP/1.1", "Host: x", "Content-Length: 6", "Transfer-Encoding: chunked"), err: errTEAndCL},
	{name: "TE.CL", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Content-Length: 6"), err: errTEAndCL},
	{name: "TE.TE xchunked", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: xchunked"), err: errTEChunkedNotLast},
	{name: "TE.TE space before colon", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding : chunked"), err: errSpaceBeforeColon},
	{name: "TE.TE second line", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: x"), err: errTEChunkedNotLast},
	{name: "TE.TE first line", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: x", "Transfer-Encoding: chunked"), err: errTEUnsupported},
	// The empty first line is rejected before the fold is seen.
	{name: "TE.TE obs-fold", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding:", " chunked"), err: errTESyntax},
	{name: "TE.TE obs-fold after chunked", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", " , identity"), err: errObsFold},
	{name: "TE.TE VT", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: \x0bchunked"), err: errValueByte},
	{name: "TE.TE truncated", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunk"), err: errTEChunkedNotLast},
	{name: "TE.TE quoted", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: \"chunked\""), err: errTESyntax},
	{name: "TE.TE trailing comma", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked,"), err: errTESyntax},
	{name: "TE.TE leading comma", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: , chunked"), err: errTESyntax},
	{name: "TE.TE empty", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding:"), err: errTESyntax},
	{name: "TE.TE two words", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked x"), err: errTESyntax},
	{name: "chunked with parameter", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked;q=1"), err: errTESyntax},
	{name: "chunked twice", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked, chunked"), err: errTEChunkedTwice},
	{name: "chunked twice over lines", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), err: errTEChunkedTwice},
	{name: "chunked not last", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked, gzip"), err: errTEChunkedNotLast},
	{name: "gzip alone", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: gzip"), err: errTEChunkedNotLast},
	{name: "identity", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: identity"), err: errTEChunkedNotLast},
	{name: "gzip then chunked", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: gzip, chunked"), err: errTEUnsupported},
	{name: "gzip with parameter then chunked", in: head("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: gzip ; level=1, chunked"), err: errTEUnsupported},
	{name: "TE in HTTP/1.0", in: head("POST / HTTP/1.0", "Transfer-Encoding: chunked"), err: errTEHTTP10},
	{name: "TE and CL in HTTP/1.0", in: head("POST / HTTP/1.0", "Content-Length: 3", "Transfer-Encoding: chunked"), err: errTEHTTP10},

	// Host, RFC 9112 §3.2.
	{name: "HTTP/1.1 without Host", in: head("GET / HTTP/1.1"), err: errHostMissing},
	{name: "absolute-form without Host", in: head("GET http://x/ HTTP/1.1"), err: errHostMissing},
	{name: "two Host lines", in: head("GET / HTTP/1.1", "Host: a", "Host: a"), err: errHostDuplicate},
	{name: "two Host lines in HTTP/1.0", in: head("GET / HTTP/1.0", "Host: a", "HOST: b"), err: errHostDuplicate},
	{name: "space in Host", in: head("GET / HTTP/1.1", "Host: a b"), err: errHostInvalid},
	{name: "HTAB in Host", in: head("GET / HTTP/1.1", "Host: a\tb"), err: errHostInvalid},
	{name: "path in Host", in: head("GET / HTTP/1.1", "Host: a/b"), err: errHostInvalid},
	{name: "userinfo in Host", in: head("GET / HTTP/1.1", "Host: u@a"), err: errHostInvalid},
	{name: "two colons in Host", in: head("GET / HTTP/1.1", "Host: a:1:2"), err: errHostInvalid},
	{name: "bare IPv6 in Host", in: head("GET / HTTP/1.1", "Host: ::1"), err: errHostInvalid},
	{name: "unclosed IP-literal in Host", in: head("GET / HTTP/1.1", "Host: [::1"), err: errHostInvalid},
	{name: "IPv4 IP-literal in Host", in: head("GET / HTTP/1.1", "Host: [1.2.3.4]"), err: errHostInvalid},
	{name: "percent-encoded Host", in: head("GET / HTTP/1.1", "Host: %65xample.com"), err: errHostInvalid},
	{name: "port only Host", in: head("GET / HTTP/1.1", "Host: :80"), err: errHostInvalid},
	{name: "CONNECT bare IPv6", in: head("CONNECT ::0 HTTP/1.0", "Host: x"), err: errAuthorityForm},
	{name: "absolute-form bad port", in: head("GET http://x:y/ HTTP/1.1", "Host: x"), err: errAbsoluteForm},

	// Expect, RFC 9110 §10.1.1.
	{name: "unknown expectation", in: head("GET / HTTP/1.1", "Host: x", "Expect: 200-ok"), err: errExpectUnsupported},
	{name: "extra expectation", in: head("GET / HTTP/1.1", "Host: x", "Expect: 100-continue, foo"), err: errExpectUnsupported},
	{name: "expectation with parameter", in: head("GET / HTTP/1.1", "Host: x", "Expect: 100-continue;a=b"), err: errExpectUnsupported},

	// Limits.
	{name: "request line too long", in: head("GET /"+strings.Repeat("a", 6)+" HTTP/1.1", "Host: x"), lim: Limits{MaxRequestLine: 19}, err: errURITooLong},
	{name: "request line too long with bare LF", in: "GET /" + strings.Repeat("a", 6) + " HTTP/1.1\nHost: x\n\n", lim: Limits{MaxRequestLine: 19}, err: errURITooLong},
	{name: "syntax error wins over line length", in: head("GET  /"+strings.Repeat("a", 60)+" HTTP/1.1", "Host: x"), lim: Limits{MaxRequestLine: 19}, err: errSpaces},
	{name: "head too long", in: head("GET / HTTP/1.1", "Host: x"), lim: Limits{MaxHeaderBytes: 26}, err: errHeadTooLarge},
	{name: "head too long in request line", in: head("GET /"+strings.Repeat("a", 40)+" HTTP/1.1", "Host: x"), lim: Limits{MaxHeaderBytes: 26}, err: errHeadTooLarge},
	{name: "too many fields", in: head(append([]string{"GET / HTTP/1.1", "Host: x"}, repeatLines("A: b", 3)...)...), lim: Limits{MaxHeaders: 3}, err: errTooManyHeaders},
	{name: "default MaxHeaders", in: head(append([]string{"GET / HTTP/1.1", "Host: x"}, repeatLines("A: b", 100)...)...), err: errTooManyHeaders},
	{name: "default MaxRequestLine", in: head("GET /"+strings.Repeat("a", 8<<10)+" HTTP/1.1", "Host: x"), err: errURITooLong},
	{name: "default MaxHeaderBytes", in: head("GET / HTTP/1.1", "Host: x", "A: "+strings.Repeat("b", 64<<10)), err: errHeadTooLarge},
}

func checkRequest(t *testing.T, tt requestTest, buf []byte, n int, err error, req *Request) {
	t.Helper()
	if tt.err != nil {
		if err != tt.err {
			t.Fatalf("ParseRequest(%.200q) = %d, %v; want %v", buf, n, err, tt.err)
		}
		if n != 0 {
			t.Fatalf("n = %d with an error", n)
		}
		return
	}
	if err != nil {
		t.Fatalf("ParseRequest(%.200q) = %v", buf, err)
	}
	if n != len(tt.in) {
		t.Fatalf("n = %d, want %d", n, len(tt.in))
	}
	if got := summary(req); got != tt.want {
		t.Fatalf("got  %s\nwant %s", got, tt.want)
	}
}

func TestParseRequest(t *testing.T) {
	for _, tests := range [][]requestTest{validRequests, invalidRequests} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var req Request
				buf := []byte(tt.in)
				n, err := ParseRequest(buf, &req, tt.lim)
				checkRequest(t, tt, buf, n, err, &req)
				if err == nil {
					checkAliases(t, buf[:n], &req)
				}
			})
		}
	}
}

// TestHeaders checks the field lines a request exposes: order, case, OWS
// trimming, Get and Values.
func TestHeaders(t *testing.T) {
	in := head("GET / HTTP/1.1", "Host: x", "Accept:  \t text/html \t", "X-Empty:", "accept: */*", "X-Inner: a \t b")
	var req Request
	if _, err := ParseRequest([]byte(in), &req, Limits{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range req.Headers {
		got = append(got, fmt.Sprintf("%s=%q", h.Name, h.Value))
	}
	want := []string{`Host="x"`, `Accept="text/html"`, `X-Empty=""`, `accept="*/*"`, `X-Inner="a \t b"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("headers %v, want %v", got, want)
	}
	tests := []struct {
		name   string
		get    string
		values []string
	}{
		{name: "ACCEPT", get: "text/html", values: []string{"text/html", "*/*"}},
		{name: "host", get: "x", values: []string{"x"}},
		{name: "x-empty", get: "", values: []string{""}},
		{name: "missing", get: "", values: nil},
		{name: "Accep", get: "", values: nil},
	}
	for _, tt := range tests {
		if g := req.Get(tt.name); string(g) != tt.get || (tt.values == nil) != (g == nil) {
			t.Errorf("Get(%q) = %q, want %q", tt.name, g, tt.get)
		}
		var values []string
		req.Values(tt.name, func(v []byte) { values = append(values, string(v)) })
		if fmt.Sprint(values) != fmt.Sprint(tt.values) || len(values) != len(tt.values) {
			t.Errorf("Values(%q) = %q, want %q", tt.name, values, tt.values)
		}
	}
}

func TestAuthority(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: head("GET /a HTTP/1.1", "Host: h:1"), want: "h:1"},
		{in: head("GET http://t.example:8080/a HTTP/1.1", "Host: h"), want: "t.example:8080"},
		{in: head("GET https://t.example?q HTTP/1.1", "Host: h"), want: "t.example"},
		{in: head("CONNECT t.example:443 HTTP/1.1", "Host: h"), want: "t.example:443"},
		{in: head("OPTIONS * HTTP/1.1", "Host: h"), want: "h"},
		{in: head("GET / HTTP/1.0"), want: ""},
	}
	for _, tt := range tests {
		var req Request
		if _, err := ParseRequest([]byte(tt.in), &req, Limits{}); err != nil {
			t.Fatal(err)
		}
		if got := req.Authority(); string(got) != tt.want {
			t.Errorf("%q: Authority() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestIncremental splits every table input at every byte: each prefix of
// a valid head is ErrIncomplete, and each prefix of an invalid one is
// either ErrIncomplete or already the error the whole head gives, so a
// server reading byte by byte answers exactly as one reading it all.
func TestIncremental(t *testing.T) {
	for _, tests := range [][]requestTest{validRequests, invalidRequests} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				buf := []byte(tt.in)
				var req Request
				for _, k := range splitPoints(len(buf)) {
					n, err := ParseRequest(buf[:k:k], &req, tt.lim)
					if err == ErrIncomplete && n == 0 {
						continue
					}
					if tt.err == nil || err != tt.err {
						t.Fatalf("prefix %d/%d %.100q: %d, %v; want ErrIncomplete or %v", k, len(buf), buf[:k], n, err, tt.err)
					}
				}
				n, err := ParseRequest(buf, &req, tt.lim)
				checkRequest(t, tt, buf, n, err, &req)
			})
		}
	}
}

// splitPoints returns every offset in [0, n) for short inputs, and for
// long ones (whose every prefix would cost quadratic time) a sample that
// still includes the first and last 256.
func splitPoints(n int) []int {
	var ks []int
	for k := 0; k < n; k++ {
		if k < 256 || n-k <= 256 || k%61 == 0 {
			ks = append(ks, k)
		}
	}
	return ks
}

// TestLimitsBeforeComplete: a head that has already exceeded a limit is
// rejected without waiting for its end, so a slow or endless head cannot
// make the server buffer more than the limit.
func TestLimitsBeforeComplete(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		err  *Error
	}{
		{name: "endless request line", in: "GET /" + strings.Repeat("a", 100), lim: Limits{MaxRequestLine: 64}, err: errURITooLong},
		{name: "request line one over", in: "GET /" + strings.Repeat("a", 60), lim: Limits{MaxRequestLine: 64}, err: errURITooLong},
		{name: "request line at limit", in: "GET /" + strings.Repeat("a", 59), lim: Limits{MaxRequestLine: 64}, err: nil},
		{name: "request line at limit with CR", in: "GET /" + strings.Repeat("a", 50) + " HTTP/1.1\r", lim: Limits{MaxRequestLine: 64}, err: nil},
		{name: "endless field", in: "GET / HTTP/1.1\r\nA: " + strings.Repeat("b", 100), lim: Limits{MaxHeaderBytes: 64}, err: errHeadTooLarge},
		{name: "endless fields", in: "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 100), lim: Limits{MaxHeaderBytes: 64}, err: errHeadTooLarge},
		{name: "head at limit", in: "GET / HTTP/1.1\r\n" + strings.Repeat("b", 48), lim: Limits{MaxHeaderBytes: 64}, err: errHeadTooLarge},
		{name: "head one under limit", in: "GET / HTTP/1.1\r\n" + strings.Repeat("b", 47), lim: Limits{MaxHeaderBytes: 64}, err: nil},
		{name: "too many fields", in: "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 4) + "B", lim: Limits{MaxHeaders: 4}, err: errTooManyHeaders},
		{name: "at MaxHeaders", in: "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 4) + "\r", lim: Limits{MaxHeaders: 4}, err: nil},
		{name: "garbage rejected early", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", err: errMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req Request
			n, err := ParseRequest([]byte(tt.in), &req, tt.lim)
			want := error(ErrIncomplete)
			if tt.err != nil {
				want = tt.err
			}
			if err != want || n != 0 {
				t.Fatalf("ParseRequest = %d, %v; want %v", n, err, want)
			}
		})
	}
}

// TestPipelined parses requests sent back to back, skipping bodies by
// Content-Length, as a server does with a pipelining client.
func TestPipelined(t *testing.T) {
	reqs := []struct {
		head, body string
		want       string
	}{
		{head: head("GET /1 HTTP/1.1", "Host: x"), want: "GET /1 HTTP/1.1 host=x"},
		{head: head("POST /2 HTTP/1.1", "Host: x", "Content-Length: 5"), body: "hello", want: "POST /2 HTTP/1.1 cl=5 host=x"},
		{head: "\r\n" + head("GET /3 HTTP/1.1", "Host: x"), want: "GET /3 HTTP/1.1 host=x"},
		{head: "GET /4 HTTP/1.1\nHost: x\n\n", want: "GET /4 HTTP/1.1 host=x"},
		{head: head("GET /5 HTTP/1.1", "Host: x", "Connection: close"), want: "GET /5 HTTP/1.1 close host=x"},
	}
	var stream []byte
	for _, r := range reqs {
		stream = append(stream, r.head+r.body...)
	}
	var req Request
	for i, r := range reqs {
		n, err := ParseRequest(stream, &req, Limits{})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if n != len(r.head) {
			t.Fatalf("request %d: n = %d, want %d", i, n, len(r.head))
		}
		if got := summary(&req); got != r.want {
			t.Fatalf("request %d: %s, want %s", i, got, r.want)
		}
		body := stream[n : n+max(int(req.ContentLength), 0)]
		if string(body) != r.body {
			t.Fatalf("request %d: body %q, want %q", i, body, r.body)
		}
		stream = stream[n+len(body):]
	}
	if n, err := ParseRequest(stream, &req, Limits{}); err != ErrIncomplete || n != 0 {
		t.Fatalf("after the last request: %d, %v", n, err)
	}
}

// TestReuse parses a big request then a small one into the same Request:
// nothing of the first may show through.
func TestReuse(t *testing.T) {
	var req Request
	if _, err := ParseRequest([]byte(browserRequest), &req, Limits{}); err != nil {
		t.Fatal(err)
	}
	capBefore := cap(req.Headers)
	in := head("POST /x HTTP/1.0", "Content-Length: 1")
	if _, err := ParseRequest([]byte(in), &req, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got, want := summary(&req), "POST /x HTTP/1.0 cl=1 close"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if len(req.Headers) != 1 || cap(req.Headers) != capBefore {
		t.Fatalf("Headers len %d cap %d, want 1 and %d", len(req.Headers), cap(req.Headers), capBefore)
	}
	if req.Get("Cookie") != nil {
		t.Fatal("a field of the previous request survived")
	}
	req.Reset()
	if req.ContentLength != -1 || len(req.Headers) != 0 || req.Method != nil {
		t.Fatalf("Reset left %+v", req)
	}
	if full := req.Headers[:capBefore]; full[0].Name != nil {
		t.Fatal("Reset kept references into the old buffer")
	}
}

func TestErrorString(t *testing.T) {
	if got, want := errObsFold.Error(), "h1: 400 Bad Request: obs-fold header"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(error(errTEUnsupported), &e) || e.Status != 501 {
		t.Fatal("errors.As does not find the status")
	}
	if bytes.Contains([]byte(errHeadTooLarge.Error()), []byte("\n")) {
		t.Fatal("newline in error")
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		lim  Limits
		want string
	}{
		{lim: Limits{}, want: ""},
		{lim: Limits{MaxRequestLine: 1, MaxHeaderBytes: 1, MaxHeaders: 1}, want: ""},
		{lim: Limits{MaxRequestLine: -1}, want: "h1: Limits.MaxRequestLine is negative: -1"},
		{lim: Limits{MaxHeaderBytes: -2}, want: "h1: Limits.MaxHeaderBytes is negative: -2"},
		{lim: Limits{MaxHeaders: -3}, want: "h1: Limits.MaxHeaders is negative: -3"},
	}
	for _, tt := range tests {
		err := tt.lim.Validate()
		if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
			t.Errorf("%+v.Validate() = %v, want %q", tt.lim, err, tt.want)
		}
	}
	// A negative limit means the default to ParseRequest.
	var req Request
	if _, err := ParseRequest([]byte(head("GET / HTTP/1.1", "Host: x")), &req, Limits{MaxRequestLine: -1, MaxHeaderBytes: -1, MaxHeaders: -1}); err != nil {
		t.Fatal(err)
	}
}

func TestTargetFormString(t *testing.T) {
	for f, want := range map[TargetForm]string{OriginForm: "origin-form", AbsoluteForm: "absolute-form", AuthorityForm: "authority-form", AsteriskForm: "asterisk-form", 9: "TargetForm(?)"} {
		if got := f.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", f, got, want)
		}
	}
}
