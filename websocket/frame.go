package websocket

import (
	"encoding/binary"
	"math/bits"
)

// opcode is a frame's opcode (RFC 6455 §5.2).
type opcode uint8

const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

// isControl reports whether op is a control opcode (close, ping, pong, or a
// reserved one in 0xB-0xF).
func (op opcode) isControl() bool { return op&0x8 != 0 }

// known reports whether op is one of the six opcodes RFC 6455 defines.
func (op opcode) known() bool {
	switch op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
		return true
	}
	return false
}

// Frame header bits.
const (
	bitFin  = 0x80
	bitRsv1 = 0x40 // "compressed" under permessage-deflate (RFC 7692 §6)
	bitRsv2 = 0x20
	bitRsv3 = 0x10
	bitMask = 0x80
)

const (
	// maxHeaderLen is the longest frame header: 2 bytes, an 8-byte
	// extended length and a 4-byte masking key.
	maxHeaderLen = 14
	// maxControlPayload is the largest payload a control frame may carry
	// (RFC 6455 §5.5).
	maxControlPayload = 125
)

// frameHeader is a parsed frame header.
type frameHeader struct {
	length int64  // payload length
	key    uint32 // masking key as read (big-endian order of the wire bytes); valid when masked
	hlen   uint8  // header length in bytes: 2 to 14
	fin    bool
	rsv    uint8 // the RSV1-3 bits as they sit in the first byte (0x70 mask)
	op     opcode
	masked bool
}

// parseResult tells why parseFrameHeader did not return a header.
type parseResult uint8

const (
	parseOK    parseResult = iota
	parseShort             // more bytes are needed
	parseLong              // a 64-bit length with the top bit set (§5.2: must be 0)
)

// parseFrameHeader parses the frame header at the start of b. It checks
// only what the wire format itself forbids; the protocol rules (masking,
// reserved bits, opcodes, control frame sizes) are msgReader.check's.
func parseFrameHeader(b []byte) (h frameHeader, r parseResult) {
	if len(b) < 2 {
		return h, parseShort
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&bitFin != 0
	h.rsv = b0 & (bitRsv1 | bitRsv2 | bitRsv3)
	h.op = opcode(b0 & 0x0f)
	h.masked = b1&bitMask != 0
	n := 2
	switch l := b1 & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, parseShort
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, parseShort
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v>>63 != 0 {
			return h, parseLong
		}
		h.length = int64(v)
		n = 10
	default:
		h.length = int64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, parseShort
		}
		h.key = binary.BigEndian.Uint32(b[n:])
		n += 4
	}
	h.hlen = uint8(n)
	return h, parseOK
}

// appendFrameHeader appends a frame header. With masked set, key is the
// masking key (its bytes in big-endian order) and the caller masks the
// payload with maskBytes(key, 0, payload).
func appendFrameHeader(dst []byte, fin bool, rsv1 bool, op opcode, length int, masked bool, key uint32) []byte {
	b0 := byte(op)
	if fin {
		b0 |= bitFin
	}
	if rsv1 {
		b0 |= bitRsv1
	}
	var b1 byte
	if masked {
		b1 = bitMask
	}
	switch {
	case length <= 125:
		dst = append(dst, b0, b1|byte(length))
	case length <= 0xffff:
		dst = append(dst, b0, b1|126, byte(length>>8), byte(length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(length))
	}
	if masked {
		dst = binary.BigEndian.AppendUint32(dst, key)
	}
	return dst
}

// frameHeaderLen is the length of the header appendFrameHeader writes.
func frameHeaderLen(length int, masked bool) int {
	n := 2
	switch {
	case length <= 125:
	case length <= 0xffff:
		n = 4
	default:
		n = 10
	}
	if masked {
		n += 4
	}
	return n
}

// maskBytes XORs b with the masking key, starting at position pos of the
// 4-byte key cycle, and returns the position after b (RFC 6455 §5.3).
// Masking and unmasking are the same operation. It works a word at a time.
func maskBytes(key uint32, pos int, b []byte) int {
	if len(b) == 0 {
		return pos
	}
	// The key as the wire sends it: k[0] applies to the byte at position
	// 0 mod 4. Rotate it so that the first byte of b gets k[pos].
	k := bits.RotateLeft32(key, 8*(pos&3))
	i := 0
	if len(b) >= 8 {
		var kb [4]byte
		binary.BigEndian.PutUint32(kb[:], k)
		k32 := binary.LittleEndian.Uint32(kb[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for ; i+32 <= len(b); i += 32 {
			s := b[i : i+32 : i+32]
			binary.LittleEndian.PutUint64(s[0:], binary.LittleEndian.Uint64(s[0:])^k64)
			binary.LittleEndian.PutUint64(s[8:], binary.LittleEndian.Uint64(s[8:])^k64)
			binary.LittleEndian.PutUint64(s[16:], binary.LittleEndian.Uint64(s[16:])^k64)
			binary.LittleEndian.PutUint64(s[24:], binary.LittleEndian.Uint64(s[24:])^k64)
		}
		for ; i+8 <= len(b); i += 8 {
			s := b[i : i+8 : i+8]
			binary.LittleEndian.PutUint64(s, binary.LittleEndian.Uint64(s)^k64)
		}
	}
	// i is a multiple of 4, so the rotation still starts at k's top byte.
	for j := 0; i < len(b); i, j = i+1, j+1 {
		b[i] ^= byte(k >> (24 - 8*(j&3)))
	}
	return (pos + len(b)) & 3
}
