package packet

import (
	"encoding/binary"
	"hash/crc32"
)

// slicing8 is CRC-32/IEEE by slicing-by-8 (eight table lookups per eight
// bytes), for the small bodies most packets have. hash/crc32 is faster
// from 64 bytes on amd64 (carry-less multiplication), but below that it
// runs the same algorithm behind a sync.Once and a dispatch, and takes the
// last 1-8 bytes one at a time. Two CRCs of 56 bytes per request and reply
// were about 10% of the message server's CPU time in bench/RESULTS.md's
// pipelined echo; this loop takes 271 instructions for 56 bytes against
// hash/crc32's 338, and 67 against 163 for 8 (callgrind, counting only
// inside the call; BenchmarkChecksum).
func slicing8(p []byte) uint32 {
	t := crcTables // a pointer in a register: each lookup is one load
	crc := ^uint32(0)
	for len(p) >= 8 {
		q := p[:8]
		crc ^= binary.LittleEndian.Uint32(q)
		crc = t[0][q[7]] ^ t[1][q[6]] ^ t[2][q[5]] ^ t[3][q[4]] ^
			t[4][crc>>24] ^ t[5][byte(crc>>16)] ^ t[6][byte(crc>>8)] ^ t[7][byte(crc)]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return ^crc
}

// crcTables are slicing-by-8's tables for the IEEE polynomial: t[0] is
// crc32.IEEETable, t[k][b] the CRC register after b and k zero bytes.
var crcTables = func() *[8][256]uint32 {
	t := new([8][256]uint32)
	t[0] = *crc32.MakeTable(crc32.IEEE)
	for b := range 256 {
		crc := t[0][b]
		for k := 1; k < 8; k++ {
			crc = t[0][byte(crc)] ^ crc>>8
			t[k][b] = crc
		}
	}
	return t
}()
