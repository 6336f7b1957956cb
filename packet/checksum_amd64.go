package packet

// smallChecksum is the body size below which Checksum uses slicing8 rather
// than hash/crc32, whose carry-less multiplication on amd64 starts at 64
// bytes.
const smallChecksum = 64
