package packet

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is: the decoder returns the
// typed errors below, which match these sentinels.
var (
	// ErrIncomplete is returned by Decoder.Next when the source does not yet
	// hold a whole packet. Nothing was consumed; call Next again after the
	// next read. It is never wrapped, so err == ErrIncomplete is enough.
	ErrIncomplete = errors.New("packet: incomplete")

	// ErrLength is matched by *LengthError: a header whose length field is
	// below HeaderSize or above the decoder's MaxPacket. The stream cannot
	// be resynchronised after it, so it is fatal.
	ErrLength = errors.New("packet: length out of range")

	// ErrChecksum is matched by *ChecksumError: a packet whose body does not
	// match the CRC in its header. The packet was consumed and dropped; the
	// stream is still in sync.
	ErrChecksum = errors.New("packet: checksum mismatch")

	// ErrTooManyBadPackets is returned (wrapped, with the count and the last
	// mismatch) when a connection reaches MaxBadPackets checksum
	// mismatches. It is fatal.
	ErrTooManyBadPackets = errors.New("packet: too many bad packets")

	// ErrTooLarge is returned (wrapped, with the size) by Append, Encode,
	// Seal and WritePacket for a packet longer than MaxPacketLimit, whose
	// length would not fit the 16-bit length field.
	ErrTooLarge = errors.New("packet: too large to encode")

	// ErrShortPacket is returned by Seal for a slice shorter than a header.
	ErrShortPacket = errors.New("packet: shorter than a header")

	// ErrSource is returned (wrapped) by Decoder.Next when a Source breaks
	// its contract: it reported enough buffered bytes and then failed to
	// return them. It is fatal.
	ErrSource = errors.New("packet: source returned fewer bytes than buffered")

	// ErrInvalidRead is returned by Reader.ReadPacket when the underlying
	// io.Reader reports a byte count outside [0, len(p)]. It is fatal.
	ErrInvalidRead = errors.New("packet: reader returned an invalid count")
)

// LengthError reports a header whose length field is out of range: below
// HeaderSize or above the decoder's MaxPacket. It matches ErrLength. It is
// fatal: the bytes after a bad length cannot be framed, so the connection
// must be closed.
type LengthError struct {
	Length int // the header's length field
	Max    int // the decoder's effective MaxPacket
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("packet: length %d out of range [%d, %d]", e.Length, HeaderSize, e.Max)
}

// Is makes errors.Is(err, ErrLength) true.
func (e *LengthError) Is(target error) bool { return target == ErrLength }

// ChecksumError reports a packet whose body does not match its header's
// CRC. It matches ErrChecksum. The packet was consumed and dropped.
type ChecksumError struct {
	Code uint16 // the dropped packet's message code
	Want uint32 // the CRC in the header
	Got  uint32 // the CRC of the body received
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("packet: checksum mismatch in packet code %d: header %#08x, body %#08x", e.Code, e.Want, e.Got)
}

// Is makes errors.Is(err, ErrChecksum) true.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// Fatal reports whether err means the stream is unusable and the connection
// must be closed: it is true for every non-nil error except ErrIncomplete
// and a checksum mismatch (which drops one packet and leaves the stream in
// sync). In particular it is true for ErrLength, ErrTooManyBadPackets,
// ErrSource and, for a Reader, any error from the underlying io.Reader.
func Fatal(err error) bool {
	if err == nil || err == ErrIncomplete {
		return false
	}
	return !errors.Is(err, ErrChecksum) || errors.Is(err, ErrTooManyBadPackets)
}
