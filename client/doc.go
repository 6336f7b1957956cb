// Package client is the Go client for wharf's packet protocol (see
// packet/SPEC.md): what users, the tests of the server and of the chat
// application, and the wharf-bench load generator use to talk to a wharf
// server.
//
// # Requests and replies
//
// Dial connects and returns a Client. Request sends one packet and waits
// for the reply with the same code:
//
//	c, err := client.Dial(ctx, "127.0.0.1:7000", client.Config{})
//	...
//	defer c.Close()
//	reply, err := c.Request(ctx, 10, []byte("hello"))
//
// Over TLS the address is "tls://host:port": the server's certificate is
// verified as crypto/tls does by default (the system's roots, the host's
// name); Config.TLS sets other roots (a private CA, a self-signed
// certificate from wharfd -gen-cert), a client certificate for mutual
// TLS, or a server name:
//
//	roots := x509.NewCertPool()
//	roots.AppendCertsFromPEM(caPEM)
//	c, err := client.Dial(ctx, "tls://chat.example.com:7443", client.Config{TLS: &tls.Config{RootCAs: roots}})
//
// The protocol has no request IDs. It has an ordering rule instead: the
// server handles a connection's requests in order and answers them in that
// order, one reply each, with the request's code or a code 1 error naming
// it. So the client keeps, per code, a FIFO queue of the requests waiting
// for a reply, and gives each reply of a code to the oldest request of
// that code. Any number of goroutines may call Request at once on one
// Client: requests are pipelined on the connection and replies matched as
// they come. A code 1 reply {"code": N, "error": "..."} goes to the oldest
// request of code N as a *ServerError.
//
// A request that runs out of time (its context's deadline, or
// Config.RequestTimeout when the context has none) fails with an error
// matching ErrTimeout and context.DeadlineExceeded, but keeps its place in
// its code's queue: its reply, when it arrives, is dropped (Stats.Late)
// and the next reply goes to the next request. The same holds for Send,
// whose reply nobody waits for, and for keep-alive pings.
//
// What the ordering rule cannot do. If the server never sends a reply it
// owes (it drops replies under global overload, SPEC §5), every later
// reply of that code goes to the request before its own, until the
// connection closes. And the server answers "overloaded" the moment the
// request arrives, ahead of replies to earlier requests of the connection
// still queued; that error then goes to the oldest waiting request of the
// code, not necessarily the one refused. Requests of one code with the
// same meaning (a benchmark) do not care; a caller that does should keep
// one request of a code in flight at a time, or reconnect after such an
// error.
//
// # Pushes
//
// Packets that answer no request are pushes and go to Config.OnPush, in
// arrival order, on the connection's reader goroutine: packets with a code
// in Config.PushCodes (by default CodeMessage, the chat message), packets
// of a code no request is waiting for, and code 1 packets that name no
// waiting request — among them the server's shutdown notice
// {"code":0,"error":"server shutting down"}, after which the server closes
// the connection. A push with the code of a request in flight cannot be
// told apart from its reply; protocols give pushes codes of their own.
//
// # Connections, keep-alive, reconnection
//
// The server closes a connection that sends nothing for its idle timeout
// (60s by default). A Client sends a ping after Config.KeepAlive (20s) of
// sending nothing, and only then: a busy client sends no extra packets, so
// it never adds to the server's flood count. If nothing at all comes back
// for a whole KeepAlive after such a ping, the connection is declared dead
// (ErrKeepAlive) rather than waited on forever.
//
// When the connection drops, the requests waiting for replies fail with a
// *ConnError (ErrConnLost): each may or may not have been handled, and is
// never sent again, since requests are not idempotent. Without
// Config.Reconnect the client then ends: Done is closed and Err says why.
// With it, the client redials with jittered exponential backoff; new
// requests wait for the connection within their own deadline, and Send
// fails with ErrNotConnected meanwhile. Anything tied to the connection,
// such as a login, must be redone; Config.OnState reports StateConnected.
//
// A Pool holds several Clients, to one or more servers, and spreads
// requests over the connected ones round-robin.
//
// # Goroutines and writes
//
// A Client has one goroutine of its own, which reads the connection (and
// redials); it decodes with packet.Reader and copies each reply body once,
// into the slice Request returns (or the caller's buffer, with
// AppendReply). Keep-alive is a timer whose function runs only when it
// fires. Nothing else waits in the background, because a parked goroutine
// costs a stack and wharf-bench holds very many clients: a Client costs
// about 2 KiB of stack and 6 KiB of heap (4 KiB of it the read buffer)
// while idle. Close waits for all of it to stop.
//
// Writes are combined rather than funnelled through a writer goroutine. A
// request appends its encoded packet to the connection's output buffer
// under a mutex, together with its place in the reply queue, so the two
// orders agree. If no write is in progress, the same goroutine then writes
// the whole buffer with one Write, outside the lock; if one is, the packet
// rides along with the next. When packets piled up during a write, a
// short-lived goroutine takes over the flushing, so no caller writes more
// than once. An idle client thus pays no goroutine hand-off per request (a
// writer goroutine fed by a channel would pay one), and a busy one sends
// many packets per system call. Two output buffers are swapped and reused,
// and a waiter (with its 1-buffered channel) and the request timer come
// from pools, so in the steady state AppendReply allocates nothing and
// Request only its reply (see the benchmarks and TestAllocs).
//
// # Callbacks
//
// OnPush and OnState run on the client's run goroutine. While OnPush runs
// no reply is read, so it must be quick and must not wait for a Request on
// the same client. Close may be called from either callback; it then
// returns without waiting for the goroutines (Done tells when they
// stopped).
package client
