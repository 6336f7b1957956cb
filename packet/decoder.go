package packet

import (
	"fmt"
	"io"
)

// Source is the inbound side of a connection: the bytes received and not
// yet consumed. wharf/engine.Conn satisfies it (from the connection's event
// loop callbacks only); so does a *buffer.Buffer wrapped to report Len as
// InboundBuffered.
//
// A Decoder calls, per packet, InboundBuffered once, Peek(HeaderSize) once,
// and (when the whole packet is buffered) Next(length) once. It never
// touches a slice from Peek after calling Next.
type Source interface {
	// InboundBuffered returns the number of bytes buffered and not yet
	// consumed.
	InboundBuffered() int

	// Peek returns the next n bytes as one contiguous slice without
	// consuming them. With fewer than n bytes buffered it returns those
	// and io.ErrShortBuffer.
	Peek(n int) ([]byte, error)

	// Next is Peek followed by consuming the bytes returned. The slice is
	// valid until the next call on the Source.
	Next(n int) ([]byte, error)
}

// DefaultMaxBadPackets is the number of checksum mismatches after which a
// Decoder whose MaxBadPackets is zero gives up on a connection.
const DefaultMaxBadPackets = 3

// Decoder frames packets out of a Source. Use one Decoder per connection;
// its zero value is ready to use with the default limits. A Decoder is not
// safe for concurrent use: it belongs to whoever owns the connection's
// inbound side (with the engine, the connection's event loop).
//
// After a fatal error (see Fatal) the Decoder returns that same error from
// every later Next without touching the Source, until Reset.
type Decoder struct {
	// MaxPacket is the largest packet accepted, header included. A header
	// announcing more is a framing error (*LengthError). Zero or negative
	// means DefaultMaxPacket (16384); values above MaxPacketLimit are
	// treated as MaxPacketLimit and values below HeaderSize as HeaderSize.
	// It may be changed between calls to Next.
	MaxPacket int

	// MaxBadPackets is the number of checksum mismatches, counted over the
	// Decoder's life, at which Next returns ErrTooManyBadPackets instead
	// of another *ChecksumError. Zero means DefaultMaxBadPackets (3);
	// negative means never: every mismatch is just dropped and counted.
	MaxBadPackets int

	bad int   // checksum mismatches seen since the last Reset
	err error // the sticky fatal error, or nil
}

// Next returns the next complete packet from src and consumes it.
//
// The body aliases src's buffer and stays src's: it is valid until the
// next call on src (which includes the next call of Next), and the caller
// must not write to it. Copy it to keep it longer. On success err is nil.
//
// Errors:
//   - ErrIncomplete: src holds less than a whole packet. Nothing was
//     consumed; call Next again when more bytes have arrived.
//   - *ChecksumError (errors.Is(err, ErrChecksum)): the packet was consumed
//     and dropped, the stream is still framed; call Next again.
//   - an error matching ErrTooManyBadPackets: this mismatch reached
//     MaxBadPackets. The packet was consumed. Fatal.
//   - *LengthError (errors.Is(err, ErrLength)): the header's length is out
//     of range. Nothing was consumed, nothing more can be decoded. Fatal.
//   - an error matching ErrSource: src broke its contract. Fatal.
//
// Use Fatal(err) to tell the cases apart: a fatal error means the caller
// closes the connection.
//
// Next does not allocate except to build an error other than
// ErrIncomplete.
func (d *Decoder) Next(src Source) (code uint16, body []byte, err error) {
	if d.err != nil {
		return 0, nil, d.err
	}
	buffered := src.InboundBuffered()
	if buffered < HeaderSize {
		return 0, nil, ErrIncomplete
	}
	hb, err := src.Peek(HeaderSize)
	if err != nil || len(hb) < HeaderSize {
		return 0, nil, d.fail(fmt.Errorf("%w: Peek(%d) with %d buffered: %d bytes, %v", ErrSource, HeaderSize, buffered, len(hb), err))
	}
	h := ParseHeader(hb)
	// hb may be invalidated by the Next below; h is a copy.
	n := int(h.Length)
	if limit := d.maxPacket(); n < HeaderSize || n > limit {
		return 0, nil, d.fail(&LengthError{Length: n, Max: limit})
	}
	if buffered < n {
		return 0, nil, ErrIncomplete
	}
	p, err := src.Next(n)
	if err != nil || len(p) != n {
		return 0, nil, d.fail(fmt.Errorf("%w: Next(%d) with %d buffered: %d bytes, %v", ErrSource, n, buffered, len(p), err))
	}
	body = p[HeaderSize:]
	var got uint32 // Checksum of an empty body, without the call
	if len(body) > 0 {
		got = Checksum(body)
	}
	if got != h.CRC {
		return 0, nil, d.badPacket(&ChecksumError{Code: h.Code, Want: h.CRC, Got: got})
	}
	return h.Code, body, nil
}

// BadPackets returns the number of checksum mismatches seen since the
// Decoder was created or last Reset. Same goroutine rules as Next.
func (d *Decoder) BadPackets() int { return d.bad }

// Err returns the sticky fatal error, or nil while the stream is usable.
func (d *Decoder) Err() error { return d.err }

// Reset clears the bad-packet count and any fatal error, keeping MaxPacket
// and MaxBadPackets, so that a pooled connection object can reuse its
// Decoder for a new connection.
func (d *Decoder) Reset() { d.bad, d.err = 0, nil }

func (d *Decoder) maxPacket() int {
	switch m := d.MaxPacket; {
	case m <= 0:
		return DefaultMaxPacket
	case m < HeaderSize:
		return HeaderSize
	case m > MaxPacketLimit:
		return MaxPacketLimit
	default:
		return m
	}
}

func (d *Decoder) fail(err error) error {
	d.err = err
	return err
}

func (d *Decoder) badPacket(ce *ChecksumError) error {
	d.bad++
	limit := d.MaxBadPackets
	if limit == 0 {
		limit = DefaultMaxBadPackets
	}
	if limit > 0 && d.bad >= limit {
		// %v, not %w: a caller that tests ErrChecksum first and carries on
		// must not mistake the fatal error for a droppable one.
		return d.fail(fmt.Errorf("%w: %d checksum mismatches, last: %v", ErrTooManyBadPackets, d.bad, ce))
	}
	return ce
}

// sliceSource is a Source over buf[r:w], used by Reader. Owned by the Reader.
type sliceSource struct {
	buf  []byte
	r, w int
}

var _ Source = (*sliceSource)(nil)

func (s *sliceSource) InboundBuffered() int { return s.w - s.r }

func (s *sliceSource) Peek(n int) ([]byte, error) {
	if n > s.w-s.r {
		return s.buf[s.r:s.w], io.ErrShortBuffer
	}
	return s.buf[s.r : s.r+n : s.r+n], nil
}

func (s *sliceSource) Next(n int) ([]byte, error) {
	p, err := s.Peek(n)
	s.r += len(p)
	return p, err
}
