package uring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING): a group of
// equal buffers that the kernel picks from when a request with
// SQEBufferSelect has data, rather than each request pinning a buffer of
// its own while it waits. A multishot receive on an idle connection thus
// holds no memory at all.
//
// Ownership: a buffer belongs to the kernel from the moment it is in the
// ring until a CQE names it (CQEFBuffer); it then belongs to the process,
// which reads the bytes (Bytes) and hands the buffer back with Recycle. With
// an incremental ring (6.12+, IOU_PBUF_RING_INC) the kernel fills a buffer
// piece by piece across CQEs and keeps it while CQEs carry CQEFBufMore; the
// process owns only the pieces it was handed, and recycles the buffer after
// the CQE that finished it.
//
// A BufRing is owned by its Ring's goroutine. Its memory is mapped outside
// the Go heap, and untouched pages cost no RSS.
type BufRing struct {
	ring        *Ring
	group       uint16
	mask        uint16
	size        int  // bytes per buffer
	incremental bool // IOU_PBUF_RING_INC is in effect

	entries  []bufRingEntry // shared with the kernel
	ringMem  []byte
	mem      []byte  // the buffers
	tail     uint16  // next free ring slot; published by storeTail
	bid0     uint16  // the id in ring slot 0, which shares its word with the tail
	tailWord *uint32 // entry 0's bid and the ring tail, stored together
	off      []int32 // incremental: bytes of each buffer already handed out
}

// NewBufRing registers a buffer ring for group with count buffers of size
// bytes (count a power of two up to 32768), all handed to the kernel. With
// incremental it asks the kernel to consume buffers piece by piece (many
// small receives share one buffer) and reports, through Incremental,
// whether the kernel agreed.
func (r *Ring) NewBufRing(group uint16, count, size int, incremental bool) (*BufRing, error) {
	if count <= 0 || count > maxBufRingEntries || count&(count-1) != 0 {
		return nil, fmt.Errorf("uring: buffer ring of %d entries: want a power of two up to %d", count, maxBufRingEntries)
	}
	if size <= 0 || size > 1<<31-1 {
		return nil, fmt.Errorf("uring: buffer size %d out of range", size)
	}
	b := &BufRing{ring: r, group: group, mask: uint16(count - 1), size: size}
	page := unix.Getpagesize()
	ringBytes := (count*int(unsafe.Sizeof(bufRingEntry{})) + page - 1) &^ (page - 1)
	var err error
	if b.ringMem, err = unix.Mmap(-1, 0, ringBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return nil, &SetupError{Op: "mmap buffer ring", Err: err}
	}
	if b.mem, err = unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		unix.Munmap(b.ringMem)
		return nil, &SetupError{Op: "mmap buffers", Err: err}
	}
	b.entries = unsafe.Slice((*bufRingEntry)(unsafe.Pointer(&b.ringMem[0])), count)
	b.tailWord = (*uint32)(unsafe.Pointer(&b.ringMem[12]))
	reg := bufReg{ringAddr: addr(unsafe.Pointer(&b.ringMem[0])), ringEntries: uint32(count), bgid: group}
	if incremental {
		reg.flags = pbufRingIncrement
		err = r.register(registerPbufRing, unsafe.Pointer(&reg), 1)
		if err == nil {
			b.incremental = true
			b.off = make([]int32, count)
		}
	}
	if !b.incremental {
		reg.flags = 0
		err = r.register(registerPbufRing, unsafe.Pointer(&reg), 1)
	}
	if err != nil {
		b.unmap()
		return nil, err
	}
	for i := 0; i < count; i++ {
		b.put(uint16(i))
	}
	b.storeTail()
	return b, nil
}

// Group returns the buffer group id (the BufIndex of SQEs that select from it).
func (b *BufRing) Group() uint16 { return b.group }

// Size returns the size of each buffer.
func (b *BufRing) Size() int { return b.size }

// Count returns the number of buffers.
func (b *BufRing) Count() int { return len(b.entries) }

// Incremental reports whether the kernel consumes buffers incrementally.
func (b *BufRing) Incremental() bool { return b.incremental }

// Bytes returns the data a CQE with CQEFBuffer delivered, the id of its
// buffer, and whether the process now owns the whole buffer and must
// Recycle it once done with the bytes (always, unless the ring is
// incremental and the kernel keeps filling the buffer). The bytes stay
// valid until that Recycle; with an incremental ring the kernel writes
// only past them meanwhile. Every such CQE must go through Bytes, also one
// the caller has no use for (a stale one), so that buffers come back and
// the offsets of incremental buffers stay right.
func (b *BufRing) Bytes(c *CQE) (bid uint16, p []byte, recycle bool) {
	bid = uint16(c.Flags >> cqeBufferShift)
	n := max(int(c.Res), 0)
	start := int(bid) * b.size
	if !b.incremental {
		return bid, b.mem[start : start+n : start+n], true
	}
	start += int(b.off[bid])
	p = b.mem[start : start+n : start+n]
	if c.Flags&CQEFBufMore != 0 {
		b.off[bid] += int32(n)
		return bid, p, false
	}
	b.off[bid] = 0
	return bid, p, true
}

// Recycle hands buffer bid back to the kernel. The process must not touch
// its bytes afterwards.
func (b *BufRing) Recycle(bid uint16) {
	b.put(bid)
	b.storeTail()
}

// put fills the next free ring slot with buffer bid, unpublished.
func (b *BufRing) put(bid uint16) {
	i := b.tail & b.mask
	e := &b.entries[i]
	e.addr = addr(unsafe.Pointer(&b.mem[int(bid)*b.size]))
	e.len = uint32(b.size)
	if i == 0 {
		b.bid0 = bid // stored with the tail, below
	} else {
		e.bid = bid
	}
	b.tail++
}

// storeTail publishes the ring slots filled so far. The tail is a 16-bit
// field and sync/atomic has no 16-bit store, so the 32-bit word it shares
// with slot 0's buffer id is stored whole; the process is the only writer
// of both, and the kernel reads slot 0's id only while the slot is
// published, when the word holds the same id.
func (b *BufRing) storeTail() {
	var w uint32
	if littleEndian {
		w = uint32(b.bid0) | uint32(b.tail)<<16
	} else {
		w = uint32(b.bid0)<<16 | uint32(b.tail)
	}
	atomic.StoreUint32(b.tailWord, w)
}

// Close unregisters the group and unmaps its memory. Only call it when no
// request that selects from the group is in flight: the kernel would write
// into the unmapped (or remapped) range.
func (b *BufRing) Close() error {
	if b.entries == nil {
		return nil
	}
	reg := bufReg{bgid: b.group}
	err := b.ring.register(unregisterPbufRing, unsafe.Pointer(&reg), 1)
	b.unmap()
	return err
}

// Unmap releases the memory of a buffer ring whose Ring is already closed
// (closing a ring drops its registrations). It is how a ring is torn down
// from another thread than its issuer's, which alone may unregister. As
// with Close, no request may still select from the group.
func (b *BufRing) Unmap() {
	if b.entries != nil {
		b.unmap()
	}
}

func (b *BufRing) unmap() {
	unix.Munmap(b.mem)
	unix.Munmap(b.ringMem)
	b.mem, b.ringMem, b.entries = nil, nil, nil
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
