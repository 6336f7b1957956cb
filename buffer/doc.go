// Package buffer provides wharf's elastic socket buffer: a FIFO of bytes
// built from pooled chunks, one per connection and direction, that grows with
// the data in flight and holds no memory while the connection is idle.
//
// # Design
//
// A Buffer is a singly linked list of chunks. Each chunk is a fixed-size
// block from a Pool together with a small header (read and write marks, the
// next pointer, the pool it came from); the header is pooled with its block,
// so linking and unlinking chunks allocates nothing and the Buffer needs no
// slice of chunk pointers that could keep a backing array alive. The Buffer
// struct itself is 56 bytes: pool, head, tail and spare pointers, the unread
// length, the stream offset and one state word. An empty Buffer holds no
// chunk; a million idle connections cost 2 × 56 bytes each for their inbound
// and outbound buffers.
//
// Writes fill the free tail of the last chunk, then fresh chunks. Reads,
// Discard and WriteTo return every chunk they drain to its Pool at once. A
// Pool keeps free chunks in a sync.Pool, so chunks circulate between the
// connections of an event loop without locks, and a burst's chunks are freed
// by the garbage collector once they stay unused.
//
// # Direct memory regions
//
// For a socket read the engine calls Reserve, which hands out the free tail
// of the last chunk and as many fresh chunks as asked for, as a [][]byte to
// turn into iovecs for readv; after the read, Commit(n) appends the n bytes
// read and hands the unused fresh chunks straight back, so Commit(0) after
// EAGAIN leaves nothing behind. For a socket write, Slices returns views of
// the unread data, one per chunk, for writev; Discard(k) then drops the k
// bytes written. Neither path copies a byte in user space.
//
// # Random access and framing
//
// Len, At, Index and IndexFunc look at unread data in place. Peek(n) and
// Next(n) return n contiguous bytes: a zero-copy subslice when they lie in
// one chunk; otherwise the buffer copies them once into a single block (a
// chunk, or a block of a larger size class for n above the chunk size) that
// replaces them at the front, so later Peek or Next calls over the same bytes
// are zero-copy again. PeekSlices returns the same bytes as per-chunk views
// without copying.
//
// # What costs a copy
//
//   - Write, WriteString, WriteByte and ReadFrom: one copy into the chunks.
//   - Read, ReadByte and WriteTo: one copy out (WriteTo: into the writer).
//   - Peek and Next: no copy within one chunk; one copy of n bytes when the
//     range spans chunks, done at most once per range.
//   - Reserve/Commit, Slices, PeekSlices, Discard, Index, At, Truncate,
//     Seek: no copy.
//
// # Lifetimes
//
// Methods are read-only (Len, Chunks, Tell, Peek, PeekSlices, Slices, Index,
// IndexFunc, At) or modifying (all others; a call counts as modifying even
// when it fails or has nothing to do, such as Next(-1) or a refused Seek). A
// slice returned by Peek,
// PeekSlices, Next, Slices or Reserve stays valid until the next call of a
// modifying method; after that its memory may have been handed to another
// Buffer. To make that true for Next, whose bytes are already consumed, a
// chunk that Next drains is kept until the next modifying call instead of
// going back to the pool at once; likewise a Peek that has to copy keeps the
// chunks it copied from. An engine that may leave a connection idle right
// after Next calls Release (or any modifying method) when it is done with the
// bytes, so that the empty buffer really holds nothing.
//
// A Reserve stays open until Commit or the next modifying call. Commit after
// anything but read-only calls panics: the bytes read would otherwise land in
// a chunk that is no longer part of the buffer.
//
// # Goroutines
//
// A Buffer belongs to one goroutine at a time and has no lock: in the
// reactor engine, to the event loop that owns the connection. A Pool is safe
// for concurrent use, and is normally shared by all the buffers of a process
// (DefaultPool) or of an engine.
//
// # File-like interface
//
// Buffer implements io.Reader, io.Writer, io.StringWriter, io.ByteReader,
// io.ByteScanner, io.ByteWriter, io.ReaderFrom, io.WriterTo and io.Seeker.
// Tell and Seek count in stream offsets (bytes consumed since creation or
// Reset); Seek only moves forward over buffered data, because consumed
// chunks are already back in the pool. Truncate(n) keeps the first n unread
// bytes; Reset drops everything.
package buffer
