// Package httpd is an HTTP/1.1 server on wharf's engine, for servers that
// hold very many keep-alive connections. Requests are parsed on the event
// loops (RFC 9112, package httpd/internal/h1) and served either on the
// loop itself, with the native API, or by any standard net/http handler
// on a bounded pool of goroutines.
//
//	s, err := httpd.New(httpd.Config{Handler: mux})
//	s.Listen("tcp://0.0.0.0:8080")
//	go s.Serve()
//	...
//	s.Shutdown(ctx)
//
// # Two ways to serve
//
// Config.Handler takes an http.Handler: a router, a framework, an
// http.FileServer (or this package's FileServer, which sends files with
// sendfile). The handler runs on a handler goroutine, one of at most
// Config.Handlers (default 4096) that start as requests need them and exit
// after 30 s idle; requests waiting for one queue up to Config.QueueSize,
// beyond which they are answered 503 with Retry-After. The ResponseWriter
// implements http.Flusher, http.Hijacker, io.ReaderFrom and, through
// http.ResponseController, SetWriteDeadline and SetReadDeadline. The
// request context carries http.LocalAddrContextKey and is cancelled when
// the client goes away, when the handler returns, and by Close.
//
// Config.Native takes a NativeHandler, which runs on the event loop that
// read the request, with a RequestCtx: no goroutine hand-off, and no
// allocation per request in steady state. It must not block, since every
// other connection of its loop waits while it runs; it suits small fast
// answers (a cache hit, a health check, a counter). Native takes
// precedence when both are set.
//
// # Goroutines
//
// Each connection belongs to one event loop (engine.Conn's rules): the
// loop reads and parses, dispatches requests, moves request bodies, and
// enforces deadlines. A native handler runs on that loop. An http.Handler
// runs on a pool goroutine and writes through the engine's AsyncWrite, so
// the loop never waits for a handler and a handler never touches the
// loop's state; what they share (response order, flow control, the body
// stream) is under small mutexes. A slow client slows its own handler
// down: a handler's Write waits while more than 256 KiB of its response
// is unsent.
//
// # Pipelining and order
//
// A client may send requests without waiting for answers. Requests that
// arrive together (a burst, at most 16 in flight) are served concurrently
// by the adapter, and their responses always go out in request order: a
// response that ends before its turn is held and written when the ones
// before it are done. Bytes that arrive after a burst wait until it is
// answered, because a request in it may hijack the connection. An error
// the server answers itself (400, 413, 503) also takes its turn, after
// every earlier response, and then the connection closes. A response with
// Connection: close is the last one: the requests after it are not
// answered, as RFC 9112 §9.6 requires. Native requests are served one at
// a time, in order.
//
// # Request bodies
//
// For the adapter, bodies are streamed: the handler runs as soon as the
// head is parsed, and Request.Body delivers the body as it arrives, with
// chunked coding decoded incrementally. The loop keeps at most 64 KiB of
// body ahead of the handler; when the handler has not read that, the loop
// stops consuming the connection's input until a Read makes room, so a
// slow handler holds the client back rather than growing memory. (The
// engine still reads the socket into its own inbound buffer meanwhile,
// bounded by Engine.MaxInbound, which by default leaves room for a whole
// body within MaxBodyBytes; a chunked body that will exceed the limit is
// refused with 413 before that buffer fills.) "Expect: 100-continue" is
// answered on the handler's first Read, as net/http does; a handler that
// answers without reading gets no 100 sent, and the connection closes.
// A body the handler does not read, or reads only in part, is discarded
// after the handler returns, up to 256 KiB, so that the connection can
// serve the next request; a longer one closes the connection after the
// response. A body over MaxBodyBytes is refused: at once with 413 when
// its Content-Length says so, and for a chunked body by failing Read with
// *http.MaxBytesError once the limit is reached (no byte beyond it is
// delivered); the server then answers 413 itself unless the handler's
// response has already started, and closes. A malformed chunked body
// likewise gives 400.
//
// A native handler cannot wait on the loop, so its bodies are buffered
// whole (at most MaxBodyBytes) before it runs: RequestCtx.Body is the
// complete, decoded body. A body that arrived with its head is read in
// place, without a copy; one that arrives over time is gathered in a
// buffer taken from a pool for that request only.
//
// After each request a connection gives back the buffers that grew large,
// so an idle connection holds a few kilobytes whatever it received
// before.
//
// # Limits and timeouts
//
// Every limit has a default (Config's field comments give them):
//
//	ReadHeaderTimeout  10s    head of a request (from its first byte, or from accept); slowloris
//	ReadTimeout        60s    whole request, body included
//	WriteTimeout       60s    the response, from the end of its request's head
//	IdleTimeout        120s   between requests on a keep-alive connection
//	MaxRequestLine     8 KiB  request line (414 above)
//	MaxHeaderBytes     64 KiB request head (431 above)
//	MaxBodyBytes       1 MiB  request body (413 above)
//	MaxConns           off    open connections; more are closed on accept (Stats.RefusedConns)
//	MaxConnsPerIP      off    per source IPv4 address or IPv6 /64 (package iplimit); more get 503 (Stats.RefusedPerIP)
//
// A timeout closes the connection (counted in Stats.Timeouts). A handler
// may take its response out of WriteTimeout with
// http.ResponseController.SetWriteDeadline, which then works as on a
// net.Conn: the connection is cut when the deadline passes with bytes of
// the response still unsent, and a write after the deadline fails with
// os.ErrDeadlineExceeded; the zero time means none. An event stream that
// sets a deadline before each write lives as long as it writes and its
// client reads. SetReadDeadline likewise bounds the body's Reads and
// replaces ReadTimeout for the body. Every time httpd measures comes from
// Config.Clock, the clock the engine enforces deadlines with.
//
// A response that declares a Content-Length and writes less closes its
// connection (Stats.ShortBodies), since the client would otherwise read
// the next response as the rest of the body. Header fields the server
// owns (Content-Length, Transfer-Encoding, Connection, Trailer; for the
// native API also Date and Server) are recognised in any letter case.
//
// # Hijacking
//
// Hijack hands the connection to the handler as a net.Conn (with
// deadlines, passing nettest's conformance suite) once the responses
// before it are out; bytes the client sent after the request come first.
// It is refused while later pipelined requests are being served. The
// connection then belongs to the handler: no timeout applies until it
// sets deadlines, and closing it closes the connection.
//
// # Shutdown
//
// Shutdown stops accepting, closes idle connections at once, lets the
// requests in progress finish (their responses carry Connection: close),
// and returns when everything is closed, or when its context ends, after
// closing the rest at once. Close does the latter immediately, also for a
// Shutdown already under way, and returns when the server has stopped.
// Serve returns ErrServerClosed.
package httpd
