package server

import "errors"

// Kick errors: the server closes a connection with one of these, and its
// OnClose classifies them (see Kick).
var (
	// ErrFlood closes a connection that sent flood_count packets in a row,
	// each less than flood_interval after the previous one.
	ErrFlood = errors.New("server: flood: packets too frequent")
	// ErrSourceLimit is logged for a connection closed at open because its
	// source address holds Config.MaxConnectionsPerIP connections already.
	ErrSourceLimit = errors.New("server: too many connections from one source address")
	// ErrTooManyPending closes a connection that keeps sending while twice
	// MaxQueuedPerConn of its requests wait (counted as a flood).
	ErrTooManyPending = errors.New("server: flood: too many requests pending")
	// ErrFraming closes a connection whose packet length is out of range.
	ErrFraming = errors.New("server: framing error")
	// ErrBadPackets closes a connection after max_bad_packets CRC mismatches.
	ErrBadPackets = errors.New("server: too many packets with a bad checksum")
	// ErrClosed is returned for sends on a closed connection.
	ErrClosed = errors.New("server: connection closed")
	// ErrOverloaded is returned by sends refused because the server holds
	// max_pending_total unsent packets.
	ErrOverloaded = errors.New("server: send queue full (overloaded)")
	// ErrReplied is returned by a second reply to one request.
	ErrReplied = errors.New("server: request already answered")
	// ErrServerClosed is returned by Serve after Shutdown, and by Start or
	// Serve called after Shutdown.
	ErrServerClosed = errors.New("server: closed")
	// ErrStarted is returned by Start or Serve on a server already started.
	ErrStarted = errors.New("server: already started")
)
