package buffer

import (
	"bytes"
	"fmt"
	"io"
)

// Buffer is an elastic FIFO byte buffer for one socket direction, built from
// pooled chunks. The zero value is an empty buffer that draws chunks from
// DefaultPool; New and Init choose another Pool.
//
// A Buffer is owned by one goroutine at a time (for the engine: the event
// loop that owns the connection) and has no lock; handing it to another
// goroutine needs the usual happens-before edge (channel, mutex).
//
// Methods fall in two groups. Read-only calls (Len, Chunks, Tell, Peek,
// PeekSlices, Slices, Index, IndexFunc, At) never invalidate anything.
// Every other method modifies the buffer. A slice returned by Peek,
// PeekSlices, Next, Slices or Reserve stays valid, and its bytes unchanged by
// the Buffer, until the next call of a modifying method; after that the
// memory may belong to another Buffer.
//
// A Buffer must not be copied after first use.
type Buffer struct {
	pool *Pool  // chunk source; nil means DefaultPool
	head *chunk // first chunk of the data list; nil iff n == 0
	tail *chunk // last chunk of the data list; writes go to its free space buf[w:]

	// spare holds chunks that are outside the data list but not yet back in
	// the pool. While a reservation is outstanding (resv > 0) it is exactly
	// the fresh chunks handed out by Reserve, in order. Otherwise it holds
	// chunks that slices handed out by Next, ReadByte or a linearizing Peek
	// may still point into; the next modifying call reuses or releases them.
	spare *chunk

	n   int   // unread bytes: the sum of w-r over the data list
	off int64 // bytes consumed since creation or the last Reset (Tell)

	// resv is > 0 while a Reserve is outstanding (the bytes it handed out),
	// canUnread when the last modifying call was a successful ReadByte, and
	// 0 otherwise. The two states exclude each other, so one word holds
	// both and the struct stays at 56 bytes.
	resv int
}

// canUnread is the resv value that lets UnreadByte undo a ReadByte.
const canUnread = -1

// Compile-time checks of the interfaces the engine and io helpers rely on.
var (
	_ io.Reader       = (*Buffer)(nil)
	_ io.Writer       = (*Buffer)(nil)
	_ io.StringWriter = (*Buffer)(nil)
	_ io.ByteScanner  = (*Buffer)(nil)
	_ io.ByteWriter   = (*Buffer)(nil)
	_ io.ReaderFrom   = (*Buffer)(nil)
	_ io.WriterTo     = (*Buffer)(nil)
	_ io.Seeker       = (*Buffer)(nil)
)

// New returns an empty Buffer drawing chunks from p; nil p means DefaultPool.
// It holds no chunk until data arrives.
func New(p *Pool) *Buffer { return &Buffer{pool: p} }

// Init empties b (as Reset does) and makes it draw new chunks from p; nil p
// means DefaultPool. Use it for a Buffer embedded by value in a larger struct.
// Chunks always go back to the Pool they came from, so changing pools never
// mixes chunk sizes. Init modifies b.
func (b *Buffer) Init(p *Pool) {
	b.Reset()
	b.pool = p
}

// Len returns the number of unread bytes. Read-only, O(1).
func (b *Buffer) Len() int { return b.n }

// Chunks returns the number of chunks b holds: those with unread data plus
// any it keeps alive for slices handed out by Next, ReadByte, a linearizing
// Peek, or an outstanding Reserve. It is 0 for an empty buffer after any
// modifying call other than Next and ReadByte (see Release). Read-only,
// O(chunks); meant for tests and statistics.
func (b *Buffer) Chunks() int {
	k := 0
	for c := b.head; c != nil; c = c.next {
		k++
	}
	for c := b.spare; c != nil; c = c.next {
		k++
	}
	return k
}

// Tell returns the stream offset of the first unread byte: the number of
// bytes consumed (read, discarded, written out, skipped) since the Buffer was
// created or last Reset. Truncate does not change it. Read-only.
func (b *Buffer) Tell() int64 { return b.off }

// Write appends p to the buffer, filling the free tail of the last chunk and
// then fresh chunks. It always returns len(p), nil. p is copied once (the one
// copy an application write costs); it may be a slice this buffer handed out
// (an echo of a Next result). Modifying.
func (b *Buffer) Write(p []byte) (int, error) {
	b.resv = 0
	n := len(p)
	b.n += n
	for len(p) > 0 {
		t := b.writable()
		m := copy(t.buf[t.w:], p)
		t.w += m
		p = p[m:]
	}
	if b.spare != nil {
		b.dropSpare()
	}
	return n, nil
}

// WriteString is Write for a string, without converting it to a []byte.
// Modifying.
func (b *Buffer) WriteString(s string) (int, error) {
	b.resv = 0
	n := len(s)
	b.n += n
	for len(s) > 0 {
		t := b.writable()
		m := copy(t.buf[t.w:], s)
		t.w += m
		s = s[m:]
	}
	if b.spare != nil {
		b.dropSpare()
	}
	return n, nil
}

// WriteByte appends c. It always returns nil. Modifying.
func (b *Buffer) WriteByte(c byte) error {
	b.resv = 0
	t := b.writable()
	t.buf[t.w] = c
	t.w++
	b.n++
	if b.spare != nil {
		b.dropSpare()
	}
	return nil
}

// writable returns the tail chunk if it has free space, else links a fresh
// chunk (taken from spare if possible) and returns it. The caller must put
// at least one byte into it before returning to the user, so that no chunk
// of the data list is empty.
func (b *Buffer) writable() *chunk {
	if t := b.tail; t != nil && t.w < len(t.buf) {
		return t
	}
	c := b.fresh()
	b.link(c)
	return c
}

// fresh returns an empty chunk of the pool's chunk size, reusing a spare
// chunk when one fits. Only modifying calls may use it: spare chunks can back
// slices that a read-only call must leave intact. Spare chunks that do not
// fit stay on spare: the caller may still be copying from one of them (a
// Write of a slice this buffer handed out), so they are released only when
// the call is done with its arguments.
//
// Reusing a spare chunk under a Write of a slice that points into that same
// chunk is safe: the slice lies within the chunk, the copy into the chunk
// starts at offset 0, and copy is a memmove.
func (b *Buffer) fresh() *chunk {
	p := b.pool
	if p == nil {
		p = DefaultPool
	}
	home := &p.classes[0]
	for pc := &b.spare; *pc != nil; pc = &(*pc).next {
		if c := *pc; c.home == home {
			*pc = c.next
			c.r, c.w, c.next = 0, 0, nil
			return c
		}
	}
	return home.get()
}

// link appends c to the data list.
func (b *Buffer) link(c *chunk) {
	if b.tail == nil {
		b.head = c
	} else {
		b.tail.next = c
	}
	b.tail = c
}

// dropSpare returns the spare chunks to their pools. Called by modifying
// methods, which have invalidated every slice that could point into them.
func (b *Buffer) dropSpare() {
	for c := b.spare; c != nil; {
		next := c.next
		c.release()
		c = next
	}
	b.spare = nil
}

// settle starts a modifying call that will not reuse spare chunks: it ends
// any reservation and UnreadByte window and releases the spare chunks.
func (b *Buffer) settle() {
	b.resv = 0
	if b.spare != nil {
		b.dropSpare()
	}
}

// consume drops the first n (<= b.n) unread bytes, releasing drained chunks
// at once. Only modifying calls may use it.
func (b *Buffer) consume(n int) {
	b.n -= n
	b.off += int64(n)
	for n > 0 {
		c := b.head
		k := c.w - c.r
		if n < k {
			c.r += n
			return
		}
		n -= k
		b.head = c.next
		c.release()
	}
	if b.head == nil {
		b.tail = nil
	}
}

// retireHead unlinks the drained head chunk and keeps it on spare, because a
// slice just handed to the user may point into it.
func (b *Buffer) retireHead() {
	c := b.head
	b.head = c.next
	if b.head == nil {
		b.tail = nil
	}
	c.next = b.spare
	b.spare = c
}

// Read reads up to len(p) bytes into p, like bytes.Buffer.Read: it returns
// 0, io.EOF when the buffer is empty and p is not, and 0, nil for an empty p.
// Drained chunks go back to the pool at once. Modifying.
func (b *Buffer) Read(p []byte) (int, error) {
	b.settle()
	if b.n == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := 0
	for c := b.head; c != nil && n < len(p); c = c.next {
		n += copy(p[n:], c.buf[c.r:c.w])
	}
	b.consume(n)
	return n, nil
}

// ReadByte reads and returns the next byte, or 0, io.EOF when the buffer is
// empty. If it drains a chunk, the chunk is kept (see Release) so that
// UnreadByte can put the byte back. Modifying.
func (b *Buffer) ReadByte() (byte, error) {
	b.settle()
	c := b.head
	if c == nil {
		return 0, io.EOF
	}
	x := c.buf[c.r]
	c.r++
	b.n--
	b.off++
	if c.r == c.w {
		b.retireHead()
	}
	b.resv = canUnread
	return x, nil
}

// UnreadByte puts back the byte returned by the last call, which must have
// been a successful ReadByte with only read-only calls other than Peek in
// between (like bufio.Reader, a Peek ends the window). Otherwise it returns
// ErrUnreadByte and puts nothing back. Modifying.
func (b *Buffer) UnreadByte() error {
	if b.resv != canUnread {
		b.settle()
		return ErrUnreadByte
	}
	b.resv = 0
	// ReadByte left spare empty unless it drained the chunk the byte came
	// from, in which case that chunk is the only spare one.
	if c := b.spare; c != nil {
		b.spare = nil
		c.next = b.head
		b.head = c
		if b.tail == nil {
			b.tail = c
		}
	}
	b.head.r--
	b.n++
	b.off--
	return nil
}

// Peek returns the next n bytes as one contiguous slice without consuming
// them. If n > Len() it returns all Len() bytes and io.ErrShortBuffer; n < 0
// returns nil, ErrNegativeCount; n == 0 (or an empty buffer) returns nil.
//
// Bytes that lie in one chunk cost no copy. Bytes spanning chunks are moved
// once into a single block (a regular chunk if n fits, else a block of the
// smallest larger size class) that replaces them at the front of the buffer,
// so a later Peek or Next of the same bytes is zero-copy. The chunks copied
// from stay alive until the next modifying call, so every slice returned
// earlier stays valid: Peek is read-only in that sense. A linearizing Peek
// between Reserve and Commit cancels the reservation (Commit(n > 0) then
// panics), and any Peek ends the UnreadByte window.
//
// The result has its capacity clipped to n: appending to it never writes
// into the buffer. It is valid until the next modifying call.
func (b *Buffer) Peek(n int) ([]byte, error) {
	if b.resv == canUnread {
		b.resv = 0
	}
	if n < 0 {
		return nil, ErrNegativeCount
	}
	var err error
	if n > b.n {
		n, err = b.n, io.ErrShortBuffer
	}
	if n == 0 {
		return nil, err
	}
	c := b.head
	if c.w-c.r < n {
		c = b.linearize(n, true)
	}
	return c.buf[c.r : c.r+n : c.r+n], err
}

// Next returns the next n bytes as one contiguous slice and consumes them:
// Peek followed by Discard, with the same copying rules as Peek. If n > Len()
// it returns and consumes all Len() bytes and reports io.ErrShortBuffer (the
// bytes.Buffer behaviour plus the error); n < 0 returns nil,
// ErrNegativeCount and consumes nothing (it is still a modifying call).
//
// The result stays valid until the next modifying call: a chunk that Next
// drains is not returned to the pool before then (call Release when done
// with the result if the connection may now sit idle). Modifying.
func (b *Buffer) Next(n int) ([]byte, error) {
	b.settle()
	if n < 0 {
		return nil, ErrNegativeCount
	}
	var err error
	if n > b.n {
		n, err = b.n, io.ErrShortBuffer
	}
	if n == 0 {
		return nil, err
	}
	c := b.head
	if c.w-c.r < n {
		c = b.linearize(n, false)
	}
	p := c.buf[c.r : c.r+n : c.r+n]
	c.r += n
	b.n -= n
	b.off += int64(n)
	if c.r == c.w {
		b.retireHead()
	}
	return p, err
}

// linearize copies the first n unread bytes (more than the head chunk holds,
// at most b.n) into one new block and makes it the head. Chunks the copy
// empties go to spare when keep is set (read-only callers: earlier slices
// may point into them) and back to the pool otherwise. It returns the block.
func (b *Buffer) linearize(n int, keep bool) *chunk {
	if b.resv > 0 {
		// The reserved tail may be copied away below; the caller's read
		// would then land in a chunk that is no longer in the list. Cancel:
		// the reserved chunks stay on spare, so such a read corrupts no one.
		b.resv = 0
	}
	p := b.pool
	if p == nil {
		p = DefaultPool
	}
	blk := p.block(n)
	for blk.w < n {
		c := b.head
		m := copy(blk.buf[blk.w:n], c.buf[c.r:c.w])
		blk.w += m
		c.r += m // moves the read mark only; the bytes stay as they were
		if c.r == c.w {
			b.head = c.next
			if keep {
				c.next = b.spare
				b.spare = c
			} else {
				c.release()
			}
		}
	}
	blk.next = b.head
	b.head = blk
	if blk.next == nil {
		b.tail = blk
	}
	return blk
}

// PeekSlices appends to dst zero-copy views of the next n unread bytes, one
// per chunk, and returns it; nothing is consumed or copied. If n > Len() it
// appends all Len() bytes and returns io.ErrShortBuffer; n < 0 returns dst,
// ErrNegativeCount. The views are valid until the next modifying call.
// Read-only.
func (b *Buffer) PeekSlices(n int, dst [][]byte) ([][]byte, error) {
	if n < 0 {
		return dst, ErrNegativeCount
	}
	var err error
	if n > b.n {
		n, err = b.n, io.ErrShortBuffer
	}
	return b.Slices(dst, n), err
}

// Slices appends to dst zero-copy views of up to max unread bytes (max < 0:
// all of them), one per chunk in order, and returns it: the iovec list for a
// writev. After writing k bytes, call Discard(k). The views have their
// capacity clipped and are valid until the next modifying call. Read-only;
// it allocates only if dst must grow.
func (b *Buffer) Slices(dst [][]byte, max int) [][]byte {
	for c := b.head; c != nil && max != 0; c = c.next {
		s := c.buf[c.r:c.w:c.w]
		if max > 0 {
			if len(s) > max {
				s = s[:max:max]
			}
			max -= len(s)
		}
		dst = append(dst, s)
	}
	return dst
}

// Discard skips the next n bytes and returns how many it skipped. If n >
// Len() it skips all Len() bytes and returns io.ErrShortBuffer; n < 0 returns
// 0, ErrNegativeCount. Drained chunks go back to the pool at once (Discard
// returns no slice that could point into them). Modifying.
func (b *Buffer) Discard(n int) (int, error) {
	b.settle()
	if n < 0 {
		return 0, ErrNegativeCount
	}
	var err error
	if n > b.n {
		n, err = b.n, io.ErrShortBuffer
	}
	b.consume(n)
	return n, err
}

// Index returns the offset of the first c in the unread data, or -1.
// Read-only; it scans chunk by chunk with bytes.IndexByte.
func (b *Buffer) Index(c byte) int {
	base := 0
	for ch := b.head; ch != nil; ch = ch.next {
		if i := bytes.IndexByte(ch.buf[ch.r:ch.w], c); i >= 0 {
			return base + i
		}
		base += ch.w - ch.r
	}
	return -1
}

// IndexFunc returns the offset of the first unread byte for which f returns
// true, or -1. f must not call methods of b. Read-only.
func (b *Buffer) IndexFunc(f func(byte) bool) int {
	base := 0
	for ch := b.head; ch != nil; ch = ch.next {
		for i, x := range ch.buf[ch.r:ch.w] {
			if f(x) {
				return base + i
			}
		}
		base += ch.w - ch.r
	}
	return -1
}

// At returns the unread byte at offset i. It panics (with an error wrapping
// ErrIndexRange) if i is outside [0, Len()), as a slice would. It is O(1) when
// i falls in the first or the last chunk, the cases a framing decoder and an
// appender meet, and walks the chunks otherwise. Read-only.
func (b *Buffer) At(i int) byte {
	if uint(i) >= uint(b.n) {
		panic(fmt.Errorf("%w: At(%d) with length %d", ErrIndexRange, i, b.n))
	}
	c := b.head
	if k := c.w - c.r; i < k {
		return c.buf[c.r+i]
	}
	if t := b.tail; i >= b.n-(t.w-t.r) {
		return t.buf[t.w-(b.n-i)]
	}
	for {
		k := c.w - c.r
		if i < k {
			return c.buf[c.r+i]
		}
		i -= k
		c = c.next
	}
}

// Truncate keeps the first n unread bytes and drops the rest, returning
// emptied chunks to the pool. n >= Len() changes nothing (unlike
// bytes.Buffer, which panics for n > Len()); n < 0 panics with an error
// wrapping ErrNegativeCount. Tell is unchanged. Modifying.
func (b *Buffer) Truncate(n int) {
	b.settle()
	if n < 0 {
		panic(fmt.Errorf("%w: Truncate(%d)", ErrNegativeCount, n))
	}
	if n >= b.n {
		return
	}
	b.n = n
	var rest *chunk
	if n == 0 {
		rest, b.head, b.tail = b.head, nil, nil
	} else {
		c := b.head
		for n > c.w-c.r {
			n -= c.w - c.r
			c = c.next
		}
		c.w = c.r + n
		rest, c.next, b.tail = c.next, nil, c
	}
	for rest != nil {
		next := rest.next
		rest.release()
		rest = next
	}
}

// Reset drops all data, ends any reservation, returns every chunk to the
// pool and sets Tell to 0. Modifying.
func (b *Buffer) Reset() {
	b.settle()
	for c := b.head; c != nil; {
		next := c.next
		c.release()
		c = next
	}
	b.head, b.tail, b.n, b.off = nil, nil, 0, 0
}

// Release returns to the pool the chunks b keeps only for slices handed out
// earlier: those drained by Next or ReadByte and those a Peek copied away
// from. Call it when those slices are no longer used and the connection may
// go idle, so that an empty buffer holds no memory; any other modifying call
// does the same as a side effect. It also ends an outstanding reservation.
// Modifying.
func (b *Buffer) Release() { b.settle() }

// Seek moves the read position forward over unread data, discarding the
// bytes skipped, and returns the new absolute stream offset (the new Tell).
// Positions are stream offsets as reported by Tell: io.SeekStart counts from
// the stream's start and must be >= Tell(); io.SeekCurrent takes an offset
// >= 0; io.SeekEnd is relative to the end of the buffered data and takes an
// offset <= 0. A position before Tell returns ErrSeekBackward (those chunks
// are gone); one past the buffered data returns ErrSeekPastEnd; an unknown
// whence returns ErrWhence. On error no data is consumed and Seek returns
// Tell(). Modifying.
func (b *Buffer) Seek(offset int64, whence int) (int64, error) {
	b.settle()
	var skip int64 // bytes to discard; checked without overflow
	switch whence {
	case io.SeekStart:
		if offset < b.off {
			return b.off, ErrSeekBackward
		}
		skip = offset - b.off
	case io.SeekCurrent:
		if offset < 0 {
			return b.off, ErrSeekBackward
		}
		skip = offset
	case io.SeekEnd:
		if offset > 0 {
			return b.off, ErrSeekPastEnd
		}
		if offset < -int64(b.n) {
			return b.off, ErrSeekBackward
		}
		skip = int64(b.n) + offset
	default:
		return b.off, ErrWhence
	}
	if skip > int64(b.n) {
		return b.off, ErrSeekPastEnd
	}
	b.consume(int(skip))
	return b.off, nil
}

// Reserve appends to dst writable slices with a total length of at least n
// and returns it: first the free tail of the last chunk (if any), then fresh
// pooled chunks. It is the iovec list for a readv. n <= 0 asks for the
// cheapest non-empty room: the free tail, or else one fresh chunk. After the
// read, Commit the number of bytes written. The slices are valid until the
// next modifying call; a new Reserve cancels the previous one. Reserving the
// chunk size (Pool.ChunkSize) is usually right: every fresh chunk costs a
// pool round trip even when Commit hands it straight back. It allocates only
// if dst must grow. Modifying.
func (b *Buffer) Reserve(n int, dst [][]byte) [][]byte {
	b.resv = 0
	total := 0
	if t := b.tail; t != nil && t.w < len(t.buf) {
		dst = append(dst, t.buf[t.w:])
		total = len(t.buf) - t.w
	}
	var first, last *chunk
	for total < n || total == 0 {
		c := b.fresh()
		if last == nil {
			first = c
		} else {
			last.next = c
		}
		last = c
		dst = append(dst, c.buf)
		total += len(c.buf)
	}
	b.dropSpare()
	b.spare = first
	b.resv = total
	return dst
}

// Commit appends to the buffer the first n bytes written into the slices of
// the last Reserve (in order across the slices) and returns the unused fresh
// chunks to the pool at once, so Commit(0) after EAGAIN leaves b holding no
// more chunks than before the Reserve. It panics (with an error wrapping
// ErrCommitRange) if n < 0 or n exceeds what that Reserve handed out, or, for
// n > 0, if a modifying call or a linearizing Peek came in between.
// Modifying.
func (b *Buffer) Commit(n int) {
	if reserved := max(b.resv, 0); n < 0 || n > reserved {
		panic(fmt.Errorf("%w: Commit(%d) with %d bytes reserved", ErrCommitRange, n, reserved))
	}
	b.resv = 0
	b.n += n
	if t := b.tail; t != nil && n > 0 {
		k := min(n, len(t.buf)-t.w)
		t.w += k
		n -= k
	}
	for n > 0 {
		c := b.spare
		b.spare = c.next
		c.next = nil
		c.w = min(n, len(c.buf))
		n -= c.w
		b.link(c)
	}
	b.dropSpare()
}

// ReadFrom reads from r until io.EOF straight into the buffer's chunks (the
// free tail, then fresh chunks) and returns the number of bytes read; io.EOF
// is not reported as an error. Any other error from r is returned with the
// count read before it. A count outside [0, len(p)] from r returns
// ErrInvalidCount and that read is dropped. Modifying.
func (b *Buffer) ReadFrom(r io.Reader) (int64, error) {
	b.resv = 0
	var total int64
	for {
		c := b.tail
		fresh := c == nil || c.w == len(c.buf)
		if fresh {
			c = b.fresh()
		}
		m, err := r.Read(c.buf[c.w:])
		if m < 0 || m > len(c.buf)-c.w {
			if fresh {
				c.release()
			}
			b.dropSpare()
			return total, ErrInvalidCount
		}
		if m > 0 {
			c.w += m
			b.n += m
			total += int64(m)
			if fresh {
				b.link(c)
			}
		} else if fresh {
			c.release()
		}
		if err != nil {
			b.dropSpare()
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}

// WriteTo writes the unread data to w chunk by chunk, consuming what w
// accepts and returning drained chunks to the pool at once, until the buffer
// is empty or w fails. A short write without an error returns
// io.ErrShortWrite; a count outside [0, len(p)] returns ErrInvalidCount and
// consumes nothing of that write. w must not keep the slices it is given
// (the io.Writer rule). The engine writes sockets with Slices and writev
// instead, one system call for many chunks. Modifying.
func (b *Buffer) WriteTo(w io.Writer) (int64, error) {
	b.settle()
	var total int64
	for c := b.head; c != nil; c = b.head {
		k := c.w - c.r
		m, err := w.Write(c.buf[c.r:c.w:c.w])
		if m < 0 || m > k {
			return total, ErrInvalidCount
		}
		b.consume(m)
		total += int64(m)
		if err != nil {
			return total, err
		}
		if m < k {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}
