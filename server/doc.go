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
// packets are copied into a Request and put in the connection's mailbox; a
// bounded pool of worker goroutines (Config.Handlers) serves mailboxes: one
// worker at a time per connection, so requests of a connection are handled in
// order, and a slow handler holds up only its own connection and one worker.
// When the handler queue is full, the loop answers the request at once with a
// code 1 "overloaded" error. Replies and pushes go back through the
// transport's send queue (engine.Conn.AsyncWrite) with the seed's two limits:
// a connection with more than MaxPendingPerConn unsent packets is closed as a
// slow reader, and while the server holds MaxPendingTotal unsent packets new
// ones are dropped and counted.
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
// Handlers run on worker goroutines. Conn and Request methods are safe from
// any goroutine; a Request and its Body belong to the handler until it
// returns.
package server
