package channels

import "sync/atomic"

// blockSize is the number of clients in each block of a large roster. A
// removal copies at most two blocks and the block index, so it costs
// O(blockSize + n/blockSize) pointer copies instead of O(n): 2 KiB plus
// 24 bytes per 128 subscribers.
const blockSize = 128

// roster is a copy-on-write list of clients: the subscribers of a channel,
// the listeners for its join/leave events, or the connections of a user.
//
// Readers (the fan-out) load a snapshot with one atomic load and iterate it
// without locks, while writers replace it. Writers must be serialised by
// the owner's lock (channel.mu, userShard.mu); a writer never modifies
// memory that a published snapshot lets readers see:
//
//   - add writes the slot just past the snapshot's count, in the last
//     block, or appends a block header past the index's length. Older
//     snapshots never read those slots (they stop at their own count).
//   - remove copies the block index, the block that receives the moved
//     client and the last block, so the new snapshot's free slots (those
//     past its count) have never been visible to any reader. That is what
//     keeps the next add's write invisible to old readers.
//
// A small roster is a single block that doubles up to blockSize (a channel
// with 2 subscribers holds 2 slots, not 128); beyond that, blocks of
// blockSize are added. Each subscription costs 8 bytes here, plus slack.
type roster struct {
	p atomic.Pointer[snapshot] // nil when empty
}

// snapshot is an immutable view of a roster: n clients in blocks; every
// block but the last is full, and blocks have len == cap.
type snapshot struct {
	blocks [][]*Client
	n      int
}

func (r *roster) load() *snapshot { return r.p.Load() }

// len returns the number of clients. Call it with the writers' lock held
// for a stable answer.
func (r *roster) len() int {
	if s := r.p.Load(); s != nil {
		return s.n
	}
	return 0
}

// add appends c and returns its index. The caller holds the writers' lock.
func (r *roster) add(c *Client) int32 {
	s := r.p.Load()
	if s == nil {
		b := make([]*Client, 1)
		b[0] = c
		r.p.Store(&snapshot{blocks: [][]*Client{b}, n: 1})
		return 0
	}
	n := s.n
	last := s.blocks[len(s.blocks)-1]
	capacity := (len(s.blocks)-1)*blockSize + len(last)
	switch {
	case n < capacity: // a free slot in the last block, never published
		last[n%blockSize] = c
		r.p.Store(&snapshot{blocks: s.blocks, n: n + 1})
	case len(s.blocks) == 1 && len(last) < blockSize: // grow the single block
		b := make([]*Client, min(2*len(last), blockSize))
		copy(b, last)
		b[n] = c
		r.p.Store(&snapshot{blocks: [][]*Client{b}, n: n + 1})
	default: // a new block; the header goes past the index's published length
		b := make([]*Client, blockSize)
		b[0] = c
		r.p.Store(&snapshot{blocks: append(s.blocks, b), n: n + 1})
	}
	return int32(n)
}

// remove takes out the client at index i by moving the last client into
// its place, and returns the client moved (now at index i), or nil if i was
// the last index. The caller holds the writers' lock and updates the moved
// client's recorded index.
func (r *roster) remove(i int32) (moved *Client) {
	s := r.p.Load()
	n := s.n
	if n == 1 {
		r.p.Store(nil)
		return nil
	}
	lastIdx := n - 1
	lb := lastIdx / blockSize
	blocks := make([][]*Client, lb+1, lb+2)
	copy(blocks, s.blocks)
	if int(i) != lastIdx {
		moved = s.blocks[lb][lastIdx%blockSize]
	}
	// The last block, without its last client. If that empties it, it is
	// dropped (it was block lb > 0: block 0 holds i, or n would be 1).
	if lastIdx%blockSize == 0 {
		blocks = blocks[:lb]
	} else {
		nl := make([]*Client, len(s.blocks[lb]))
		copy(nl, s.blocks[lb][:lastIdx%blockSize])
		blocks[lb] = nl
	}
	if moved != nil {
		bi := int(i) / blockSize
		if bi != lb { // else blocks[lb] is already the fresh copy
			nb := make([]*Client, len(s.blocks[bi]))
			copy(nb, s.blocks[bi])
			blocks[bi] = nb
		}
		blocks[bi][int(i)%blockSize] = moved
	}
	r.p.Store(&snapshot{blocks: blocks, n: lastIdx})
	return moved
}

// at returns the client at index i.
func (s *snapshot) at(i int) *Client { return s.blocks[i/blockSize][i%blockSize] }

// deliveries counts the outcome of a fan-out.
type deliveries struct {
	ok, closed, overloaded, failed uint64
}

// deliver hands p to every client of the snapshot. It holds no lock and
// allocates nothing.
func (s *snapshot) deliver(p []byte) (d deliveries) {
	left := s.n
	for _, b := range s.blocks {
		if left < len(b) {
			b = b[:left]
		}
		for _, c := range b {
			d.count(c.sub.Deliver(p))
		}
		left -= len(b)
		if left <= 0 {
			break
		}
	}
	return d
}

func (d *deliveries) count(err error) {
	switch err {
	case nil:
		d.ok++
	case ErrSubscriberClosed:
		d.closed++
	case ErrSubscriberOverloaded:
		d.overloaded++
	default:
		d.failed++
	}
}
