package logging

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ring is the async side: a fixed ring of slots laid out as a spool (see
// spool.go) in mem, which is a MAP_SHARED file mapping or, without a spool
// file, ordinary memory. Producers (any goroutine calling Handle) copy
// encoded records into the current slot under mu; full slots are handed to
// one writer goroutine, which writes them to the output in the order they
// were filled, outside mu, and returns them to the free list. This is the
// seed's double buffering, generalised to n buffers.
//
// Encoding happens before mu is taken, in a pooled scratch buffer, so
// goroutines encode in parallel and hold mu only for a memcpy of the line;
// encoding straight into the mapping would need the lock for the whole
// encoding.
type ring struct {
	mem      []byte // spool layout; headers and data of slots
	n        int    // number of slots
	size     int    // data bytes per slot
	dataOff  int    // offset of slot 0's data in mem
	policy   FullPolicy
	out      *output
	interval time.Duration
	report   func(n, total uint64) // logs a drop count; called by the writer goroutine

	dropped atomic.Uint64 // records discarded by the Drop policy

	mu   sync.Mutex // guards the fields below, and the header and data of free, filling and reserved slots
	cond sync.Cond  // broadcast when a slot is freed, a write fails or the ring closes; L is &mu
	cur  int        // slot being filled, or -1
	// curLen is the number of bytes in cur; the slot header holds the same
	// value, stored after the bytes so a crash never exposes a partial record.
	curLen  int
	free    []int  // free slots, a stack (capacity n: no allocation)
	pend    []int  // slots handed to the writer, a FIFO of length pn from pend[ph] (circular, n entries)
	ph, pn  int    //
	seq     uint64 // sequence number of the last slot taken
	handed  uint64 // slots handed to the writer so far
	written uint64 // slots the writer has finished so far; slots are written in the order handed
	errGen  uint64 // number of failed writes so far
	err     error  // the last failed write's error
	closed  bool   // no more records are accepted

	wake chan struct{} // capacity 1: a slot is pending
	stop chan struct{} // closed by close
	done chan struct{} // closed when the writer goroutine returns

	// Owned by the writer goroutine.
	prevCont bool   // the last slot written ended inside a record: no rotation before the next
	reported uint64 // drops already reported
	marking  int    // slot whose header mark fills
	markFn   func(dev, ino uint64, off int64)
}

func newRing(mem []byte, n, size int, cfg Config, out *output) *ring {
	r := &ring{
		mem:      mem,
		n:        n,
		size:     size,
		dataOff:  spoolDataOff(n),
		policy:   cfg.OnFull,
		out:      out,
		interval: cfg.FlushInterval,
		cur:      -1,
		free:     make([]int, 0, n),
		pend:     make([]int, n),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	r.cond.L = &r.mu
	r.markFn = r.mark
	for i := n - 1; i >= 0; i-- {
		r.free = append(r.free, i)
	}
	return r
}

func (r *ring) hdr(i int) []byte {
	o := fileHeaderSize + i*slotHeaderSize
	return r.mem[o : o+slotHeaderSize]
}

func (r *ring) data(i int) []byte {
	o := r.dataOff + i*r.size
	return r.mem[o : o+r.size]
}

func (r *ring) setState(i int, st uint32) { binary.LittleEndian.PutUint32(r.hdr(i)[hState:], st) }

// write copies one encoded record (ending in '\n') into the ring. It waits
// for space under the Block policy and counts the record as dropped under
// Drop. A record longer than the whole ring is cut to fit it. It returns
// ErrClosed after close. Any goroutine may call it.
func (r *ring) write(p []byte) error {
	if limit := r.n * r.size; len(p) > limit {
		p = append(p[:limit-len(truncMark)], truncMark...)
	}
	r.mu.Lock()
	for {
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		if r.cur >= 0 && len(p) <= r.size-r.curLen {
			copy(r.data(r.cur)[r.curLen:], p)
			r.curLen += len(p)
			binary.LittleEndian.PutUint32(r.hdr(r.cur)[hLen:], uint32(r.curLen))
			r.mu.Unlock()
			return nil
		}
		r.handOffLocked() // p does not fit: the current slot goes to the writer
		k := (len(p) + r.size - 1) / r.size
		if len(r.free) >= k {
			if k == 1 {
				r.cur, r.curLen = r.takeLocked(slotFilling), 0
				continue
			}
			r.spreadLocked(p, k)
			r.mu.Unlock()
			return nil
		}
		if r.policy == Drop {
			r.dropped.Add(1)
			r.mu.Unlock()
			return nil
		}
		r.cond.Wait()
	}
}

// truncMark ends a record cut to fit the ring.
const truncMark = "...(truncated)\n"

// takeLocked pops a free slot and gives it the next sequence number.
// r.mu must be held.
func (r *ring) takeLocked(state uint32) int {
	i := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	r.seq++
	h := r.hdr(i)
	binary.LittleEndian.PutUint32(h[hLen:], 0)
	binary.LittleEndian.PutUint32(h[hWritten:], 0)
	binary.LittleEndian.PutUint32(h[hFlags:], 0)
	binary.LittleEndian.PutUint64(h[hSeq:], r.seq)
	binary.LittleEndian.PutUint32(h[hState:], state)
	return i
}

// spreadLocked copies a record longer than one slot into k free slots, then
// hands them all to the writer. Until the last byte is copied the slots are
// reserved, so a crash in between never recovers half a record.
// r.mu must be held and k slots must be free.
func (r *ring) spreadLocked(p []byte, k int) {
	var slots [maxBuffers]int
	for j := range k {
		i := r.takeLocked(slotReserved)
		slots[j] = i
		c := min(len(p), r.size)
		copy(r.data(i), p[:c])
		p = p[c:]
		h := r.hdr(i)
		binary.LittleEndian.PutUint32(h[hLen:], uint32(c))
		if j < k-1 {
			binary.LittleEndian.PutUint32(h[hFlags:], flagCont)
		}
	}
	for _, i := range slots[:k] {
		r.pushLocked(i)
	}
}

// handOffLocked gives the current slot to the writer (or back to the free
// list if it is empty). r.mu must be held.
func (r *ring) handOffLocked() {
	i, n := r.cur, r.curLen
	if i < 0 {
		return
	}
	r.cur, r.curLen = -1, 0
	if n == 0 {
		r.setState(i, slotFree)
		r.free = append(r.free, i)
		return
	}
	r.pushLocked(i)
}

// pushLocked marks slot i pending and queues it for the writer.
// r.mu must be held.
func (r *ring) pushLocked(i int) {
	r.setState(i, slotPending)
	r.pend[(r.ph+r.pn)%r.n] = i
	r.pn++
	r.handed++
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// flush hands the current slot to the writer and waits until every slot
// handed so far is written, or a write fails. Any goroutine may call it.
func (r *ring) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.handOffLocked()
	target, gen := r.handed, r.errGen
	for r.written < target && r.errGen == gen && !r.closed {
		r.cond.Wait()
	}
	switch {
	case r.errGen != gen:
		return r.err
	case r.written < target:
		return ErrClosed
	}
	return nil
}

// close stops accepting records, waits for the writer to write everything
// pending and to exit, and reports an error if anything is left in the ring
// (it stays in the spool for the next New). Producers blocked by the Block
// policy return ErrClosed. Safe to call more than once.
func (r *ring) close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.handOffLocked()
		r.cond.Broadcast()
		close(r.stop)
	}
	r.mu.Unlock()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pn > 0 {
		if r.err != nil {
			return r.err
		}
		return errors.New("logging: records left in the ring")
	}
	return nil
}

// run is the writer goroutine. It returns after close, once it has tried to
// write everything pending.
func (r *ring) run() {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.wake:
		case <-t.C:
			// Bound the wait of records in a partly filled slot; this also
			// retries a write that failed.
			r.mu.Lock()
			if r.cur >= 0 && r.curLen > 0 {
				r.handOffLocked()
			}
			r.mu.Unlock()
		case <-r.stop:
			r.drain()
			return
		}
		r.drain()
	}
}

// drain writes pending slots in order until none is left or a write fails.
// Only the writer goroutine calls it.
func (r *ring) drain() {
	r.mu.Lock()
	for r.pn > 0 {
		i := r.pend[r.ph]
		r.setState(i, slotWriting)
		r.mu.Unlock()
		err := r.writeSlot(i)
		r.mu.Lock()
		if err != nil {
			// Keep the slot: it is retried at the next tick, and stays in the
			// spool if the process ends first.
			r.setState(i, slotPending)
			r.err = err
			r.errGen++
			r.cond.Broadcast()
			break
		}
		r.prevCont = binary.LittleEndian.Uint32(r.hdr(i)[hFlags:])&flagCont != 0
		r.ph = (r.ph + 1) % r.n
		r.pn--
		r.setState(i, slotFree)
		r.free = append(r.free, i)
		r.written++
		r.cond.Broadcast()
	}
	r.mu.Unlock()
	r.reportDrops()
}

// writeSlot writes the unwritten part of slot i. The slot is in the writing
// state: only the writer goroutine touches it, so r.mu is not held.
func (r *ring) writeSlot(i int) error {
	h := r.hdr(i)
	length := binary.LittleEndian.Uint32(h[hLen:])
	wrote := binary.LittleEndian.Uint32(h[hWritten:])
	r.marking = i
	n, err := r.out.writeMarked(r.data(i)[wrote:length], wrote == 0 && !r.prevCont, r.markFn)
	if n > 0 {
		binary.LittleEndian.PutUint32(h[hWritten:], wrote+uint32(n))
	}
	return err
}

// mark records in the slot being written where its bytes are about to go,
// so a recovery after a crash can tell whether they arrived. The output
// calls it with its lock held, just before writing.
func (r *ring) mark(dev, ino uint64, off int64) {
	h := r.hdr(r.marking)
	binary.LittleEndian.PutUint64(h[hDev:], dev)
	binary.LittleEndian.PutUint64(h[hIno:], ino)
	binary.LittleEndian.PutUint64(h[hOff:], uint64(off))
}

// reportDrops logs how many records were dropped since the last report.
// Only the writer goroutine calls it.
func (r *ring) reportDrops() {
	total := r.dropped.Load()
	if total == r.reported || r.report == nil {
		return
	}
	n := total - r.reported
	r.reported = total
	r.report(n, total)
}
