// Package kcp serves wharf's packet protocol over KCP, the ARQ protocol on
// UDP that trades bandwidth for latency (seed 004): its retransmission
// timeout starts near the round-trip time and grows by half an RTO per
// timeout where TCP's doubles, it resends a segment as soon as two later
// ones are acknowledged,
// and it can run without congestion control. Under loss that keeps
// request/reply latency far below TCP's, whose minimum RTO is 200 ms on
// Linux (bench/RESULTS.md, section kcp, measures it here).
//
// The protocol itself is github.com/xtaci/kcp-go/v5. This package adds what
// a server needs around it: sessions served as engine.Conns, so that the
// message server's router, handlers, heartbeat and idle timeout, flood guard,
// send-queue limits and stats run unchanged (a handler cannot tell KCP from
// TCP); a gate that keeps hostile datagrams from costing memory; idle
// reaping; and a client side usable as the client package's Dialer.
//
// # Serving
//
// Listen opens a UDP socket and serves it with an engine.Handler, usually a
// server's:
//
//	srv, _ := server.New(server.Config{}, router)
//	tr, err := kcp.Listen("udp://:7001", kcp.Config{Mode: kcp.ModeFast}, srv.Handler())
//	srv.Attach(tr) // Broadcast, Online, Stats and Shutdown now include KCP sessions
//	srv.Serve()
//
// Serve does the same on a net.PacketConn made elsewhere (the tests use a
// lossy wrapper, package lossy). Set Config.Engine to the server's engine
// configuration (srv.Config().Engine): the sessions then get the limits,
// logger and clock of the server's TCP connections.
//
// # Modes
//
// Config.Mode picks the arguments of ikcp_nodelay(nodelay, interval, resend,
// nc), SPEC §6:
//
//	default  (0, 10, 0, 0)  RTO floor 100 ms, +1 RTO per timeout, no fast
//	                        resend, congestion control
//	normal   (0, 10, 0, 1)  the same without congestion control
//	fast     (2, 10, 2, 1)  RTO floor 30 ms, +1/2 RTO per timeout, resend
//	                        after 2 skipping ACKs, no congestion control,
//	                        ACKs sent at once
//
// (ikcp doubles the timer in the first two modes; kcp-go adds one RTO.)
//
// Seed 004's fast mode also sets rx_minrto = 10 ms. kcp-go keeps rx_minrto
// unexported and sets it to 30 ms whenever nodelay is on (100 ms otherwise),
// so fast mode here has a 30 ms minimum RTO. This is not equivalent on paths
// whose RTO would fall below 30 ms (round trips under about 10 ms, such as
// loopback and LANs): a segment lost with no later segment to trigger fast
// resend, typically a lone request or reply, is resent after 30 ms instead
// of 10. Where the round trip is longer, the computed RTO exceeds both floors
// and the modes match. Losses among back-to-back segments are repaired by
// fast resend, which does not depend on the RTO.
//
// Every session runs in stream mode: wharf packets are a byte stream framed
// by their own 8-byte header, exactly as on TCP. Stream mode fills segments
// with as many queued packets as fit (many small replies cost few
// datagrams), and a packet larger than a segment is split across segments
// and reassembled by the packet decoder like a packet split across TCP
// reads. The receive path accepts message mode too: a peer's fragments
// (frg n..0) are joined by KCP before the bytes reach the decoder. Windows
// (default 128 segments each way) and the MTU (default 1400) are
// configurable; the UDP socket gets 4 MiB buffers by default.
//
// # Wire compatibility with ikcp
//
// With encryption and FEC off (the defaults) every datagram is plain ikcp:
// one or more 24-byte segment headers (conv u32, cmd u8, frg u8, wnd u16,
// ts u32, sn u32, una u32, len u32, little-endian as ikcp encodes them)
// each followed by len payload bytes, so a client built on the reference C
// ikcp talks to wharf with ikcp_create(conv, ...) on a UDP socket. Any conv
// works; the server keys sessions by remote address. The payload is the
// packet protocol's byte stream; the server sends stream-mode segments (frg
// 0), so a C client reads with ikcp_recv and frames packets itself.
// TestIkcpWireCompat proves it without C code: it builds a PUSH carrying a
// ping by hand, sends it on a plain UDP socket, and decodes the ACK and the
// PUSH carrying the ping reply byte by byte; then it sends a request as two
// message-mode fragments and reassembles the echoed reply.
//
// Config.DataShards/ParityShards turn on kcp-go's Reed-Solomon FEC, and
// Config.Key AES-256-GCM (key from PBKDF2-SHA256 of the passphrase, salt
// "wharf-kcp", 4096 iterations; each datagram is a random 12-byte nonce,
// the ciphertext and a 16-byte tag). Neither is ikcp's wire format; both ends
// must agree.
//
// # Denial of service
//
// kcp-go's Listener creates a session, before any Accept, for every datagram
// of 24 bytes or more from an address it has no session for, bounded only by
// its accept backlog (128) once sessions are accepted; a session costs about
// 160 KiB in kcp-go v5.6.61 (its output goroutine's 2048-entry queues). It
// also replaces a session when a datagram from its address carries another
// conv and sn 0. So every datagram passes a gate first (a net.PacketConn
// wrapping the socket), which keeps the session table:
//
//   - Malformed datagrams are dropped and counted (KCPStats.Garbage): fewer
//     than 24 bytes, a cmd outside 81..84, a len beyond the datagram, mixed
//     conv ids, a payload on a non-PUSH segment. With FEC the kcp-go FEC
//     header is checked first.
//   - A datagram from a known address with another conv is dropped
//     (ConvMismatch): a session can be neither reset nor hijacked by someone
//     who only knows its address.
//   - A datagram from an unknown address may open a session only if it
//     carries the first segment of a conversation (PUSH, sn 0) that the
//     transport has not closed within IdleTimeout; others are Strays. A
//     closed conversation's retransmissions thus cannot reopen it and run
//     its first request twice.
//   - Before an unknown address may take a place in the table, it may have
//     to prove that it receives what is sent to it (Config.Cookies;
//     CookiesUnderLoad, the default, asks from a quarter of MaxSessions):
//     the gate answers its first segment with a PUSH of sn 0xFFFFFFFF, no
//     payload and a cookie (an HMAC of the address, conv and time) in ts,
//     which any ikcp peer acknowledges without delivering, echoing ts; the
//     gate checks the echoed cookie, keeps the address verified for 10 s,
//     and the client's retransmitted first segment opens the session.
//     Forged source addresses never see the cookie, so a flood of forged
//     first segments costs one 24-byte reply each and no memory
//     (TestForgedSessionFlood). Plain mode only; see cookie.go.
//   - The table holds at most Config.MaxSessions addresses, sessions not yet
//     accepted included; datagrams beyond it are dropped and counted
//     (Refused, and Stats.Rejected, which the server reports as limit kicks).
//     Memory is therefore bounded by MaxSessions sessions, whatever the
//     flood: TestFloodOfConversations sends 50,000 datagrams with random
//     conv ids from a few sockets and from three times MaxSessions sockets,
//     and checks the table and the heap.
//   - A session that receives no datagram for Config.IdleTimeout is closed
//     (engine.ErrIdleTimeout) and its state freed; so is a table entry whose
//     session was never accepted (kcp-go drops sessions when its backlog is
//     full; the peer's retransmission normally creates it a moment later).
//
// With a Key, the gate authenticates datagrams from unknown addresses
// itself (a failed tag is Garbage) and leaves the others to kcp-go, which
// authenticates every datagram; it cannot read conv ids inside them, so the
// conv check and the acknowledgement tracking below are off, and only key
// holders can open or reset sessions.
//
// # Sessions as engine.Conns
//
// A Transport holds no connection machinery of its own: each accepted
// kcp-go session, a net.Conn, is handed to an engine.Engine of the
// transport's (Config.Engine, always of Kind engine.Goroutine) with
// engine.Engine.ServeConn. The engine reads it into an elastic buffer, runs
// OnOpen, OnData and OnClose, queues writes with the same limits and errors
// as for TCP (MaxOutbound, MaxPendingPerConn, MaxPendingTotal: ErrOutboundFull,
// ErrOverloaded, ErrConnClosed), keeps deadlines and timers on the clock,
// and counts everything in Stats. The transport adds, through
// engine.ConnOptions: writes of at most a send window per call into kcp-go
// (which queues whatever fits its window), so that the backlog stays where
// the limits see it; writes from a goroutine of their own, since kcp-go
// blocks a write while the window is full; the linger of a graceful close
// (below); the table entry dropped before the session closes; and the
// close reasons of sessions the transport closes itself (the idle reaper:
// engine.ErrIdleTimeout; a reset conversation: ErrSessionReplaced in an
// engine.OpError). Connection IDs are unique in the process, apart from
// the TCP engine's. Loop is always 0; Booter and Ticker handlers are not
// called.
//
// Differences from TCP, all forced by KCP having no connection handshake or
// close:
//
//   - A session opens when its first segment arrives; a client's Dial
//     returns before the server knows it.
//   - The peer's close is invisible: OnClose never gets io.EOF. A client
//     that goes away is closed by the server's idle timeout or
//     Config.IdleTimeout.
//   - A graceful close (Close, a kick by the server, Shutdown) hands the
//     backlog to KCP and then keeps the session alive, since KCP retransmits
//     only while it is, until the peer has acknowledged everything. kcp-go
//     does not expose its send buffer, so the gate follows the session's
//     datagrams: the largest una the peer sent back, and the PUSH segments
//     sent for the first time. The close ends when everything written is
//     acknowledged, when the peer has been silent for 2 s (or 8 RTOs), or
//     after 10 s; a hard close (idle timeout, slow reader, Shutdown's context
//     ending) does not wait. With a Key, where datagrams cannot be read, it
//     lingers 3 RTOs (at least 100 ms) instead.
//   - The client side's Close (Dial) cannot wait: it sends what is queued
//     once, and the socket closes 20 ms later.
//
// # Goroutines
//
// All Transport methods are safe for concurrent use. A Transport runs an
// accept goroutine, an idle reaper, and kcp-go's socket reader; each session
// has its reader goroutine and kcp-go's output goroutine, and a writer
// goroutine while it has a backlog; kcp-go's timer scheduler goroutines are
// shared by the process and never stop. Shutdown returns once the
// transport's own goroutines have ended and every kcp-go session, accepted
// or not, and the socket are closed; kcp-go's goroutines for them end a
// moment later, when they see the closure. A client session (Dial) has
// kcp-go's reader and output goroutines, which end after Close.
package kcp
