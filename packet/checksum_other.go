//go:build !amd64

package packet

// smallChecksum is 0 where hash/crc32 has no small-input slow path to
// avoid (arm64 and others use CRC instructions or its generic slicing for
// every size).
const smallChecksum = 0
