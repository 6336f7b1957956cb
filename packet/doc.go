// Package packet implements wharf's wire format: the 8-byte packet header,
// an encoder, a streaming decoder for event-loop servers, and blocking
// helpers for clients. SPEC.md in this directory specifies the protocol
// for implementers in other languages, with worked hex dumps; this comment
// is the manual for the Go API.
//
// # The format
//
// A connection carries packets back to back. Each is an 8-byte header and
// a body, all integers big-endian:
//
//	offset 0  uint16  length  header + body in bytes, 8 <= length <= max_packet
//	offset 2  uint16  code    message code
//	offset 4  uint32  crc     crc32.ChecksumIEEE(body); 0 for an empty body
//	offset 8  body    length-8 bytes
//
// max_packet is the receiver's limit: DefaultMaxPacket (16384) unless
// configured, never above MaxPacketLimit (65535), the largest length the
// field can hold. Codes 0 (CodePing, an empty keep-alive) and 1 (CodeError,
// the server's error reply) are reserved by the protocol.
//
// # Encoding
//
// Append writes one packet to the end of a byte slice and allocates only
// if the slice must grow, so a sender that reuses its buffer encodes for
// free. Encode is Append to a new slice. Seal is for encoders that write
// the body in place: reserve HeaderSize bytes, append the body after them,
// then Seal fills in the header. WritePacket encodes into a pooled buffer
// and hands the whole packet to an io.Writer in one Write. All of them
// refuse, with ErrTooLarge, a packet longer than MaxPacketLimit; none
// knows the peer's max_packet, which is the caller's to respect.
//
// Header, ParseHeader and Header.Put read and write the header alone.
//
// # Decoding in a server
//
// A Decoder frames packets out of a Source: the inbound side of a
// connection, whose bytes stay in the connection's own buffer.
// wharf/engine.Conn is a Source. From the connection's read callback:
//
//	for {
//		code, body, err := c.dec.Next(conn)
//		switch {
//		case err == packet.ErrIncomplete:
//			return // wait for the next read
//		case packet.Fatal(err):
//			conn.Close() // framing error or too many bad packets
//			return
//		case err != nil:
//			continue // bad CRC: the packet was dropped and counted
//		}
//		handle(code, body) // body is valid until the next call on conn
//	}
//
// Next looks at the header with Peek, checks the length against
// MaxPacket before waiting for the body (so a hostile length cannot make
// the server buffer 64 KiB it will refuse anyway), and consumes the packet
// with a single Next on the Source only once it is complete. The body it
// returns aliases the Source's buffer: it is a zero-copy view, valid until
// the next call on the Source, so a handler that runs later on another
// goroutine must copy it. Partial packets need no state in the Decoder:
// they wait in the Source until the rest arrives, however many reads
// that takes.
//
// A Decoder is one connection's and is used by one goroutine at a time
// (with the engine, the connection's event loop). Its zero value is ready,
// with the default limits; Reset readies it for a new connection.
//
// # Errors and what to do with them
//
//   - ErrIncomplete: not a whole packet yet, nothing consumed. Wait.
//   - *ChecksumError (errors.Is(err, ErrChecksum)): the body did not match
//     its CRC. The packet was consumed and dropped; the stream is still in
//     step, so call Next again. The count is in BadPackets.
//   - ErrTooManyBadPackets: the MaxBadPackets-th mismatch (default 3, over
//     the connection's life; negative MaxBadPackets disables the limit).
//     Close the connection.
//   - *LengthError (errors.Is(err, ErrLength)): the header's length is
//     below HeaderSize or above MaxPacket. Nothing after it can be framed.
//     Close the connection.
//
// Fatal tells the two groups apart: it is false for ErrIncomplete and a
// checksum mismatch and true for everything else. A fatal error is sticky:
// the Decoder returns it again from every later Next without touching the
// Source.
//
// # Blocking clients
//
// A Reader is the Decoder for code that owns an io.Reader, such as a
// net.Conn in a client or test: ReadPacket blocks until a packet is
// complete and returns it, with the Decoder's errors plus the reader's
// (io.EOF between packets, io.ErrUnexpectedEOF inside one). It reads into
// one buffer that starts at 4 KiB and grows to the largest packet seen,
// and its bodies alias that buffer until the next ReadPacket, so reading
// a stream of packets allocates nothing. WritePacket is its counterpart.
// This shape (a type with an internal buffer, rather than a function that
// takes one) keeps the partial bytes of the next packet between calls
// without making the caller carry them.
//
// # Cost
//
// Decoder.Next does not allocate (guarded by a testing.AllocsPerRun test)
// except to build an error other than ErrIncomplete; it costs three
// interface calls and a header parse, plus the CRC, which hash/crc32
// computes with hardware support on amd64 (PCLMULQDQ, from 64 bytes) and
// arm64 (CRC32 instructions); bodies under 64 bytes on amd64 go through
// this package's own slicing-by-8 loop, about 20% fewer instructions than
// hash/crc32's path for them (checksum.go). Append, Reader.ReadPacket and
// WritePacket do not allocate in the steady state either. See
// bench_test.go.
package packet
