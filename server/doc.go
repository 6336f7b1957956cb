// Package server is wharf's message server: the behaviour of seed 002's game
// server socket layer on wharf's engine, speaking the packet protocol of
// package packet (see packet/SPEC.md).
//
// # Data flow
//
// A transport (the TCP engine, or kcp) reads bytes into a connection's
// buffer and calls the server on the connection's event loop. There the
// packet decoder cuts complete packets out of the buffer without copying
// them, and each packet passes the flood guard. Pings (code 0) are answered
// right there, so heartbeats never wait behind application work. Other
// packets are copied into the connection's mailbox, an inbox buffer that
// holds its waiting requests back to back (one copy, no allocation, per
// request); a bounded pool of worker goroutines (Config.Handlers) serves
// mailboxes: one worker at a time per connection, so requests of a
// connection are handled in order, and a slow handler holds up only its own
// connection and one worker. When the handler queue is full, the loop
// answers the request at once with a code 1 "overloaded" error.
//
// A worker serves up to 16 requests of a connection in a turn, then lets
// other connections go first. The replies of a turn, and any packet sent to
// the connection meanwhile, are appended in call order to the turn's reply
// batch, which goes to the transport as one write when the turn ends (or
// when it holds 64 packets or 16 KiB, or at Request.Flush, or before
// Conn.Close): 16 pipelined requests cost the event loop one task and one
// write, not 16. A handler that is about to block calls Request.Flush, so
// that the replies to the requests before it need not wait for it. Replies
// and pushes go through the transport's send queue (engine.Conn.AsyncWrite,
// a batch as engine.Conn.AsyncWriteBatch, counted as its packets) with the
// seed's two limits: a connection with more than MaxPendingPerConn unsent
// packets is closed as a slow reader, and while the server holds
// MaxPendingTotal unsent packets new ones are dropped and counted.
//
// Stats.HandlerLatency runs from a request's arrival to the moment its reply
// is handed to the transport (the end of its turn, or a Flush), or to its
// handler's return when it sends no reply: the part of a client's wait that
// the server controls.
//
// # Kicks
//
// Every way a client can misbehave has a defined outcome and a counter
// (Stats.Kicks, by Kick reason): a packet length out of range closes the
// connection (the stream cannot be resynchronised); a checksum mismatch
// drops the packet, and MaxBadPackets of them close it; the flood guard
// closes a connection over its token bucket (FloodRate packets/s sustained,
// FloodBurst at once; or seed 002's FloodCount packets in a row each closer
// than FloodInterval, FloodByInterval); no packet for IdleTimeout
// closes it (any packet, a ping included, resets the timer; bytes that do not
// complete a packet do not); a slow reader is closed; connections over
// MaxConnections are closed at accept. Kicks are logged at most KickLogRate
// times a second.
//
// A packet queued for a connection that has closed is never written to
// another connection that reuses its descriptor: writes are bound to the
// engine's connection object, which is never reused, and the engine checks
// epoll events against a per-slot sequence number (seed 002's iCurrsequence).
//
// # Goroutines
//
// Handlers run on worker goroutines. Conn methods are safe from any
// goroutine. A Request and its Body belong to the handler until it returns
// (each worker reuses one Request, and the Body lives in the mailbox), and
// its methods are for the handler, or for goroutines it waits for.
package server
