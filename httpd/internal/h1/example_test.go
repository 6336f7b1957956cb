package h1_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"wharf/httpd/internal/h1"
)

// A connection's read callback parses heads straight out of its inbound
// buffer, reusing one Request, and finds the next pipelined request at n.
func ExampleParseRequest() {
	inbound := []byte("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /c HTTP/1.1\r\nHost: exa")
	var req h1.Request
	for {
		n, err := h1.ParseRequest(inbound, &req, h1.Limits{})
		if err == h1.ErrIncomplete {
			fmt.Printf("wait for more bytes after %q\n", inbound)
			return
		}
		var perr *h1.Error
		if errors.As(err, &perr) {
			fmt.Printf("%s", h1.AppendError(nil, perr.Status, perr.Reason))
			return // and close the connection
		}
		body := inbound[n : n+max(int(req.ContentLength), 0)]
		fmt.Printf("%s %s host=%s body=%q close=%v\n", req.Method, req.Target, req.Host, body, req.Close)
		inbound = inbound[n+len(body):] // req's slices are invalid once these bytes are reused
	}
	// Output:
	// GET /a host=example.com body="" close=false
	// POST /b host=example.com body="hello" close=false
	// wait for more bytes after "GET /c HTTP/1.1\r\nHost: exa"
}

// A request the parser rejects carries the status to answer with.
func ExampleParseRequest_smuggling() {
	var req h1.Request
	_, err := h1.ParseRequest([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"), &req, h1.Limits{})
	fmt.Println(err)
	// Output:
	// h1: 400 Bad Request: both Transfer-Encoding and Content-Length
}

// A chunked body arrives in pieces; unconsumed bytes stay in front of the
// next read, and what follows the body is the next request.
func ExampleChunkedDecoder() {
	reads := []string{"5\r\nhel", "lo\r\n7;ext=1\r\n, worl", "d\r\n0\r\nX-Sum: 1\r\n\r\nGET / HTTP/1.1\r\n"}
	var d h1.ChunkedDecoder
	var pending []byte
	for _, r := range reads {
		pending = append(pending, r...)
		for {
			data, n, done, err := d.Next(pending)
			if len(data) > 0 {
				fmt.Printf("data %q\n", data) // valid until pending is reused
			}
			pending = pending[n:]
			if done {
				fmt.Printf("end of body; next request starts %q\n", pending)
				return
			}
			if err == h1.ErrIncomplete {
				break // read more
			}
			if err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	// Output:
	// data "hel"
	// data "lo"
	// data ", worl"
	// data "d"
	// end of body; next request starts "GET / HTTP/1.1\r\n"
}

func ExampleRequest_Get() {
	var req h1.Request
	h1.ParseRequest([]byte("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\naccept: */*\r\n\r\n"), &req, h1.Limits{})
	fmt.Printf("%s\n", req.Get("ACCEPT"))
	req.Values("Accept", func(v []byte) { fmt.Printf("%s;", v) })
	fmt.Println()
	// Output:
	// text/html
	// text/html;*/*;
}

func ExampleRequest_Authority() {
	var req h1.Request
	h1.ParseRequest([]byte("GET http://target.example/x HTTP/1.1\r\nHost: header.example\r\n\r\n"), &req, h1.Limits{})
	fmt.Printf("%s %s\n", req.Authority(), req.Host)
	// Output:
	// target.example header.example
}

func ExampleAppendStatusLine() {
	fmt.Printf("%q\n", h1.AppendStatusLine(nil, 1, 200))
	fmt.Printf("%q\n", h1.AppendStatusLine(nil, 0, 404))
	fmt.Println(h1.StatusText(431))
	// Output:
	// "HTTP/1.1 200 OK\r\n"
	// "HTTP/1.0 404 Not Found\r\n"
	// Request Header Fields Too Large
}

func ExampleDateCache() {
	var dates h1.DateCache // shared by every event loop
	now := time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)
	fmt.Printf("%q\n", dates.Append(nil, now))
	// Output:
	// "Date: Sun, 01 Mar 2026 12:30:45 GMT\r\n"
}

func ExampleAppendChunk() {
	var out []byte
	out = h1.AppendChunk(out, []byte("hello, "))
	out = h1.AppendChunk(out, []byte("world"))
	out = h1.AppendLastChunk(out)
	fmt.Printf("%q\n", out)
	// Output:
	// "7\r\nhello, \r\n5\r\nworld\r\n0\r\n\r\n"
}

func ExampleValidHeaderValue() {
	fmt.Println(h1.ValidHeaderName("X-Request-Id"), h1.ValidHeaderValue("abc 123"))
	fmt.Println(h1.ValidHeaderName("X Request"), h1.ValidHeaderValue("abc\r\nSet-Cookie: x=1"))
	// Output:
	// true true
	// false false
}

func ExampleAppendError() {
	resp := h1.AppendError(nil, 431, "request head too large")
	fmt.Print(strings.ReplaceAll(string(resp), "\r\n", "\n")) // CRLF on the wire
	// Output:
	// HTTP/1.1 431 Request Header Fields Too Large
	// Connection: close
	// Content-Type: text/plain; charset=utf-8
	// X-Content-Type-Options: nosniff
	// Content-Length: 60
	//
	// 431 Request Header Fields Too Large: request head too large
}

// Limits come from the server's configuration; check them when loading it.
func ExampleLimits_Validate() {
	lim := h1.Limits{MaxRequestLine: 4 << 10, MaxHeaderBytes: -1}
	fmt.Println(lim.Validate())
	// Output:
	// h1: Limits.MaxHeaderBytes is negative: -1
}
