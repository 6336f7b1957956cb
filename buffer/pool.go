package buffer

import (
	"fmt"
	"sync"
)

// MinChunkSize is the smallest chunk size NewPool accepts. Below it the
// per-chunk bookkeeping (a 56-byte header, one pool round trip per chunk)
// costs more than the bytes it manages.
const MinChunkSize = 64

// maxPooledBlock bounds the blocks that linearizing Peek and Next keep in
// size-class pools. A larger block is allocated for the call and left to the
// garbage collector when drained: peeking at more than 16 MiB at once is rare
// enough that pooling it would mostly pin memory.
const maxPooledBlock = 16 << 20

// numClasses is enough classes to reach maxPooledBlock from MinChunkSize.
const numClasses = 19 // 64 << 18 == 16 MiB

// DefaultPool hands out 4096-byte chunks; it is used by the zero Buffer and by
// New(nil).
//
// Why 4096, measured with BenchmarkChunkSize (records of an 8-byte header
// plus a message, read one chunk at a time, taken out with Next; numbers in
// bench/RESULTS.md): for 64 B and 512 B messages, the common case for chat,
// game and push traffic, every chunk size from 1 KiB to 64 KiB costs the
// same within noise (about 100-170 ns a record). Below 4 KiB, 4 KiB
// messages cost about twice as much (more of them span chunks and Next must
// copy them) and large messages up to 6 times as much. Above 4 KiB, large
// messages get cheaper (4 KiB messages about 2.5 times with 8 KiB chunks),
// but a connection holding a partial message pins a whole chunk, so each
// doubling doubles the memory of busy connections, which is what a
// million-connection server runs out of. 4096 is also the page size and a Go
// allocator size class, so a chunk wastes nothing. Idle buffers hold no chunk
// whatever the size. Servers with large messages should use their own Pool
// (NewPool(16 << 10) or more).
var DefaultPool = NewPool(4096)

// Pool hands out chunks of one size and takes them back. All Buffers that
// share a Pool draw from the same free chunks, so memory follows the data in
// flight rather than the number of connections.
//
// A Pool is safe for concurrent use by any number of goroutines; the Buffers
// using it need no lock of their own to do so. A Pool must not be copied.
//
// Free chunks are kept in sync.Pools: a chunk released by one event loop is
// reused by the same loop without contention, and chunks nobody needed for
// two garbage collections are freed, so a burst leaves no lasting footprint.
// A mutex-guarded free list was measured as an alternative: a little cheaper
// per Get+Put on one goroutine (about 30 ns against 40 ns here), no better
// with two goroutines contending, and it would need a trimming policy of its
// own to give memory back after a burst.
type Pool struct {
	// classes[0] hands out the pool's chunks; classes[k] hands out blocks of
	// ChunkSize()<<k bytes, used only when Peek or Next must make more than
	// one chunk's worth of bytes contiguous. Classes past maxPooledBlock
	// have size 0 and are not used.
	classes [numClasses]class
}

// class is a free list of blocks of one size.
type class struct {
	size int       // bytes in each block; constant after NewPool
	free sync.Pool // of *chunk with len(buf) == size
}

// chunk is one block of buffer memory plus its bookkeeping. The header is
// pooled together with its bytes, so a Buffer links chunks into a list
// without any slice of its own, and Put stores a pointer (no allocation).
type chunk struct {
	buf  []byte // the block; len(buf) == cap(buf), never resliced
	r, w int    // buf[r:w] are the chunk's bytes in its Buffer; 0 <= r <= w <= len(buf)
	next *chunk // next chunk of the same list, nil at the end
	home *class // where release returns the chunk; nil for an oversized block
}

// NewPool returns a Pool of chunkSize-byte chunks. It panics if chunkSize is
// below MinChunkSize (64). Sizes of 4096 to 65536 suit sockets; tests use 64 to
// make chunk boundaries frequent.
func NewPool(chunkSize int) *Pool {
	if chunkSize < MinChunkSize {
		panic(fmt.Sprintf("buffer: NewPool(%d): chunk size below %d", chunkSize, MinChunkSize))
	}
	p := new(Pool)
	p.classes[0].size = chunkSize
	for k := 1; k < numClasses; k++ {
		size := p.classes[k-1].size * 2
		if size > maxPooledBlock {
			break
		}
		p.classes[k].size = size
	}
	return p
}

// ChunkSize returns the size in bytes of the pool's chunks.
func (p *Pool) ChunkSize() int { return p.classes[0].size }

// chunk returns an empty chunk of the pool's chunk size.
func (p *Pool) chunk() *chunk { return p.classes[0].get() }

// block returns an empty chunk of at least n bytes: a regular chunk when n
// fits, else a block of the smallest size class that holds n, else (beyond
// maxPooledBlock) a block of exactly n bytes that is never pooled.
func (p *Pool) block(n int) *chunk {
	for k := range p.classes {
		cl := &p.classes[k]
		if cl.size == 0 {
			break
		}
		if n <= cl.size {
			return cl.get()
		}
	}
	return &chunk{buf: make([]byte, n)}
}

func (cl *class) get() *chunk {
	if v := cl.free.Get(); v != nil {
		return v.(*chunk)
	}
	return &chunk{buf: make([]byte, cl.size), home: cl}
}

// release hands c back to its class. The caller must hold the only
// reference: no slice handed to a user may still point into c.buf.
func (c *chunk) release() {
	c.r, c.w, c.next = 0, 0, nil
	if c.home != nil {
		c.home.free.Put(c)
	}
}
