package kcp

import "encoding/binary"

// The ikcp segment header, 24 bytes, little-endian (ikcp encodes with
// ikcp_encode32u, which is little-endian on every platform it supports):
//
//	offset 0   u32  conv  conversation id, equal on both ends
//	offset 4   u8   cmd   81 PUSH, 82 ACK, 83 WASK (window probe), 84 WINS (window size)
//	offset 5   u8   frg   fragments that follow (message mode); 0 in stream mode
//	offset 6   u16  wnd   the sender's free receive window, in segments
//	offset 8   u32  ts    send timestamp (ms), echoed by the ACK
//	offset 12  u32  sn    segment number (PUSH), or the sn acknowledged (ACK)
//	offset 16  u32  una   every sn below this has been received
//	offset 20  u32  len   payload bytes that follow the header
//
// A datagram carries one or more segments back to back.
const (
	segHeaderSize = 24
	cmdPush       = 81
	cmdAck        = 82
	cmdWask       = 83
	cmdWins       = 84

	// kcp-go's FEC framing (not part of ikcp): a 6-byte header (u32 seqid,
	// u16 type) and, for data shards, a u16 size before the KCP segments.
	fecHeaderSize  = 6
	fecDataOffset  = 8
	fecTypeData    = 0xf1
	fecTypeParity  = 0xf2
	fecTypeOOB     = 0xf3
	gcmNonceSize   = 12
	gcmTagSize     = 16
	maxDatagram    = 1500 // kcp-go's mtuLimit: it reads datagrams into 1500-byte buffers
	maxFragments   = 255
	maxSegmentSize = maxDatagram - segHeaderSize
)

// segHeader is a decoded segment header.
type segHeader struct {
	conv        uint32
	cmd, frg    uint8
	wnd         uint16
	ts, sn, una uint32
	length      uint32
}

func parseSegHeader(b []byte) segHeader {
	return segHeader{
		conv:   binary.LittleEndian.Uint32(b[0:]),
		cmd:    b[4],
		frg:    b[5],
		wnd:    binary.LittleEndian.Uint16(b[6:]),
		ts:     binary.LittleEndian.Uint32(b[8:]),
		sn:     binary.LittleEndian.Uint32(b[12:]),
		una:    binary.LittleEndian.Uint32(b[16:]),
		length: binary.LittleEndian.Uint32(b[20:]),
	}
}

// put encodes h into b[:segHeaderSize].
func (h segHeader) put(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], h.conv)
	b[4] = h.cmd
	b[5] = h.frg
	binary.LittleEndian.PutUint16(b[6:], h.wnd)
	binary.LittleEndian.PutUint32(b[8:], h.ts)
	binary.LittleEndian.PutUint32(b[12:], h.sn)
	binary.LittleEndian.PutUint32(b[16:], h.una)
	binary.LittleEndian.PutUint32(b[20:], h.length)
}

// datagramInfo is what the gate learns from a well-formed KCP datagram.
type datagramInfo struct {
	conv uint32
	una  uint32 // the largest una carried (all segments carry one)
	// opener reports a PUSH with sn 0: the first segment of a
	// conversation, the only kind that may open a session.
	opener bool
	// pushes counts PUSH segments; minSn and maxSn bound their sn.
	pushes       int
	minSn, maxSn uint32
	payload      int // PUSH payload bytes
	// cookieAck reports an ACK of the gate's cookie challenge (sn
	// cookieSn); cookieTS is the ts it echoes.
	cookieAck bool
	cookieTS  uint32
}

// parseSegments validates the KCP segments of a datagram (FEC and crypto
// already removed) and summarises them. It reports false for anything ikcp
// would reject or that no ikcp peer sends: a short or truncated segment, an
// unknown cmd, mixed conv ids, a payload on a non-PUSH segment, a fragment
// count above 255 or a payload larger than a datagram can hold.
func parseSegments(b []byte) (datagramInfo, bool) {
	var info datagramInfo
	if len(b) < segHeaderSize {
		return info, false
	}
	first := true
	for len(b) > 0 {
		if len(b) < segHeaderSize {
			return info, false
		}
		h := parseSegHeader(b)
		b = b[segHeaderSize:]
		if h.cmd < cmdPush || h.cmd > cmdWins || h.length > uint32(len(b)) || h.length > maxSegmentSize {
			return info, false
		}
		if h.cmd != cmdPush && (h.length != 0 || h.frg != 0) {
			return info, false
		}
		if first {
			info.conv, info.una = h.conv, h.una
			first = false
		} else if h.conv != info.conv {
			return info, false
		} else if seqAfter(h.una, info.una) {
			info.una = h.una
		}
		if h.cmd == cmdAck && h.sn == cookieSn {
			info.cookieAck, info.cookieTS = true, h.ts
		}
		if h.cmd == cmdPush {
			if info.pushes == 0 || seqAfter(info.minSn, h.sn) {
				info.minSn = h.sn
			}
			if info.pushes == 0 || seqAfter(h.sn, info.maxSn) {
				info.maxSn = h.sn
			}
			info.pushes++
			info.payload += int(h.length)
			if h.sn == 0 {
				info.opener = true
			}
		}
		b = b[h.length:]
	}
	return info, true
}

// seqAfter reports whether sequence number a comes after b, modulo 2^32
// (ikcp's _itimediff(a, b) > 0).
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// fecPayload returns the KCP segments inside a kcp-go FEC datagram: ok is
// false for a malformed one, segs is nil for a parity shard (which carries no
// readable segments) and an OOB packet.
func fecPayload(b []byte) (segs []byte, kind uint16, ok bool) {
	if len(b) < fecHeaderSize {
		return nil, 0, false
	}
	kind = binary.LittleEndian.Uint16(b[4:])
	switch kind {
	case fecTypeData:
		if len(b) < fecDataOffset+segHeaderSize {
			return nil, kind, false
		}
		return b[fecDataOffset:], kind, true
	case fecTypeParity, fecTypeOOB:
		return nil, kind, true
	}
	return nil, kind, false
}
