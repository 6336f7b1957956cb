package packet

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// Wire constants. See SPEC.md in this directory for the full protocol.
const (
	// HeaderSize is the size of the fixed header that starts every packet.
	HeaderSize = 8

	// DefaultMaxPacket is the largest packet (header included) a Decoder
	// or Reader accepts when its MaxPacket is zero.
	DefaultMaxPacket = 16384

	// MaxPacketLimit is the largest length the 16-bit length field can
	// hold, and so the largest packet that can be encoded at all.
	MaxPacketLimit = 65535
)

// Message codes that the protocol itself defines. Applications number
// their own codes from 2 (wharfd's demo uses 5 to 8).
const (
	// CodePing has an empty body both ways. Any packet resets the server's
	// idle timer; ping exists for clients with nothing else to say.
	CodePing uint16 = 0

	// CodeError is sent by the server only, with the JSON body
	// {"code": <request code>, "error": "..."}, in reply to a request it
	// could not handle (unknown code, malformed body, overload).
	CodeError uint16 = 1
)

// WebSocketSubprotocol is the WebSocket subprotocol (Sec-WebSocket-Protocol)
// of the packet protocol over WebSocket: each binary message carries whole
// packets (SPEC.md, "WebSocket").
const WebSocketSubprotocol = "wharf.packet.v1"

// Header is the decoded form of the 8-byte packet header. On the wire all
// fields are big-endian, in this order.
type Header struct {
	Length uint16 // header + body, in bytes
	Code   uint16 // message code
	CRC    uint32 // Checksum of the body; 0 for an empty body
}

// ParseHeader decodes the first HeaderSize bytes of b. It does not validate
// the fields; the caller compares Length with its limits. It panics if b is
// shorter than HeaderSize, like a slice index would.
func ParseHeader(b []byte) Header {
	_ = b[HeaderSize-1] // one bounds check
	return Header{
		Length: binary.BigEndian.Uint16(b[0:]),
		Code:   binary.BigEndian.Uint16(b[2:]),
		CRC:    binary.BigEndian.Uint32(b[4:]),
	}
}

// Put writes h into the first HeaderSize bytes of b. It panics if b is
// shorter than HeaderSize.
func (h Header) Put(b []byte) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint16(b[0:], h.Length)
	binary.BigEndian.PutUint16(b[2:], h.Code)
	binary.BigEndian.PutUint32(b[4:], h.CRC)
}

// BodyLen returns the body length the header announces: Length minus
// HeaderSize. It is negative for a header whose Length is below HeaderSize,
// which a decoder rejects.
func (h Header) BodyLen() int { return int(h.Length) - HeaderSize }

// Checksum returns the CRC carried in the header of a packet with this
// body: CRC-32 with the IEEE polynomial (crc32.ChecksumIEEE; the CRC of zlib,
// PNG and Ethernet), which is 0 for an empty body.
func Checksum(body []byte) uint32 {
	if len(body) < smallChecksum {
		return slicing8(body)
	}
	return crc32.ChecksumIEEE(body)
}

// Append appends one complete packet (header, then body) to dst and returns
// the extended slice. It fails with ErrTooLarge, leaving dst unchanged, if
// HeaderSize+len(body) exceeds MaxPacketLimit. It does not know the
// receiver's max_packet: a packet above it (16384 by default) encodes
// fine here and is rejected by the peer as a framing error.
//
// Append allocates only when dst lacks capacity.
func Append(dst []byte, code uint16, body []byte) ([]byte, error) {
	n := HeaderSize + len(body)
	if n > MaxPacketLimit {
		return dst, tooLarge(n)
	}
	dst = slices.Grow(dst, n)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = binary.BigEndian.AppendUint16(dst, code)
	dst = binary.BigEndian.AppendUint32(dst, Checksum(body))
	return append(dst, body...), nil
}

// Encode returns a new slice holding one complete packet. It is Append to
// a nil slice.
func Encode(code uint16, body []byte) ([]byte, error) {
	return Append(nil, code, body)
}

// Seal writes the header of pkt, a packet whose body pkt[HeaderSize:] is
// already in place. It lets an encoder reserve HeaderSize bytes, append
// the body straight after them (say with json or strconv Append functions)
// and then fill the header in, without copying the body:
//
//	start := len(buf)
//	buf = append(buf, make([]byte, packet.HeaderSize)...)
//	buf = strconv.AppendInt(buf, n, 10)
//	err := packet.Seal(buf[start:], code)
//
// It fails with ErrShortPacket if len(pkt) < HeaderSize and with
// ErrTooLarge if len(pkt) > MaxPacketLimit, writing nothing.
func Seal(pkt []byte, code uint16) error {
	if len(pkt) < HeaderSize {
		return fmt.Errorf("%w: %d bytes", ErrShortPacket, len(pkt))
	}
	if len(pkt) > MaxPacketLimit {
		return tooLarge(len(pkt))
	}
	Header{Length: uint16(len(pkt)), Code: code, CRC: Checksum(pkt[HeaderSize:])}.Put(pkt)
	return nil
}

func tooLarge(n int) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, MaxPacketLimit)
}
