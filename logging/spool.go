package logging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// The spool is the async ring itself, laid out in a file that is mapped
// MAP_SHARED. Stores into a shared file mapping land in the page cache, which
// belongs to the kernel, not to the process: when the process dies (SIGKILL,
// an unrecovered panic in any goroutine, an OOM kill) every store it
// completed is still in the file, and the next New reads it back. No msync
// or fsync is needed for that. A machine crash or power loss is a different
// matter: pages the kernel had not yet written back are lost with it.
//
// Layout, all integers little-endian:
//
//	offset 0, 64 bytes: file header
//	    0  [8]byte  magic "wharfspl"
//	    8  uint32   version (1)
//	    12 uint32   number of slots n
//	    16 uint32   bytes per slot
//	offset 64 + 64*i: slot header i (64 bytes)
//	    0  uint32   state (slotFree, ...)
//	    4  uint32   length: bytes of complete records in the slot's data
//	    8  uint64   sequence number, increasing in the order slots were filled
//	    16 uint32   flags (flagCont: the last record continues in the next slot)
//	    20 uint32   written: bytes of data already written to the output
//	    24 uint64   output offset at which data[written:length] is being written
//	    32 uint64   output device   } identify the file that offset refers to;
//	    40 uint64   output inode    } zero for stderr and other writers
//	offset dataOff = 64+64*n rounded up to 4096: slot i's data at dataOff + i*size
//
// Slot states move free -> filling -> pending -> writing -> free (records of
// one size) or free -> reserved -> pending -> writing -> free (a record longer
// than a slot, spread over several). Recovery writes the data of filling,
// pending and writing slots in sequence order; reserved slots hold a record
// whose Handle had not returned and are skipped.
const (
	spoolMagic     = "wharfspl"
	spoolVersion   = 1
	fileHeaderSize = 64
	slotHeaderSize = 64
	spoolPageSize  = 4096
)

// Slot header field offsets.
const (
	hState   = 0
	hLen     = 4
	hSeq     = 8
	hFlags   = 16
	hWritten = 20
	hOff     = 24
	hDev     = 32
	hIno     = 40
)

// Slot states.
const (
	slotFree     = 0
	slotFilling  = 1 // the ring's current slot: producers append records
	slotPending  = 2 // full (or flushed): waiting for the writer
	slotWriting  = 3 // the writer is writing it to the output
	slotReserved = 4 // part of a multi-slot record still being copied
)

const flagCont = 1 // the slot's last record continues in the slot with the next sequence number

// spoolDataOff returns where slot data starts for n slots.
func spoolDataOff(n int) int {
	return (fileHeaderSize + slotHeaderSize*n + spoolPageSize - 1) &^ (spoolPageSize - 1)
}

// spoolSize returns the size of a spool of n slots of size bytes.
func spoolSize(n, size int) int { return spoolDataOff(n) + n*size }

// initSpool writes the file header into mem; slot headers must be zero.
func initSpool(mem []byte, n, size int) {
	copy(mem, spoolMagic)
	binary.LittleEndian.PutUint32(mem[8:], spoolVersion)
	binary.LittleEndian.PutUint32(mem[12:], uint32(n))
	binary.LittleEndian.PutUint32(mem[16:], uint32(size))
}

// spool is an open spool file. The flock taken on f marks the spool as owned
// by this process; the kernel drops it when the process dies, however it dies.
type spool struct {
	path string
	f    *os.File
	mem  []byte // the MAP_SHARED mapping; nil until mapped and after unmap
}

// recovery describes what New found in a spool.
type recovery struct {
	bytes   int64  // bytes written to the output
	records int64  // lines among them
	skipped int64  // bytes found already in the output (the duplicate window, closed)
	corrupt string // where a corrupt spool was moved, or ""
}

// openSpool opens (async: creates) the spool at path, takes its lock,
// writes whatever a previous process left in it to out, and, for async,
// resets it for n slots of size bytes and maps it. It returns a nil spool
// when async is false.
func openSpool(path string, async bool, n, size int, out *output) (*spool, recovery, error) {
	var rec recovery
	flags := os.O_RDWR
	if async {
		flags |= os.O_CREATE
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, rec, fmt.Errorf("logging: spool: %w", err)
		}
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if !async && errors.Is(err, os.ErrNotExist) {
			return nil, rec, nil
		}
		return nil, rec, fmt.Errorf("logging: spool: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if !async && errors.Is(err, ErrSpoolBusy) {
			return nil, rec, nil // a live async process owns it; not ours to recover
		}
		return nil, rec, fmt.Errorf("%w: %s", err, path)
	}
	rec, err = recoverSpool(f, out)
	if errors.Is(err, errSpoolCorrupt) {
		// Keep the evidence, start afresh.
		rec.corrupt = path + ".corrupt"
		f.Close()
		if err := os.Rename(path, rec.corrupt); err != nil {
			return nil, rec, fmt.Errorf("logging: spool: %w", err)
		}
		if !async {
			return nil, rec, nil
		}
		if f, err = os.OpenFile(path, flags, 0o600); err != nil {
			return nil, rec, fmt.Errorf("logging: spool: %w", err)
		}
		if err := lockFile(f); err != nil {
			f.Close()
			return nil, rec, fmt.Errorf("%w: %s", err, path)
		}
	} else if err != nil {
		f.Close() // the spool stays as it was, for the next attempt
		return nil, rec, err
	}
	if rec.bytes > 0 {
		// The spool is cleared below: make the recovered lines durable first,
		// or a power loss right after could lose both copies.
		if err := out.sync(); err != nil {
			f.Close()
			return nil, rec, err
		}
	}
	if !async {
		os.Remove(path)
		f.Close()
		return nil, rec, nil
	}
	sp := &spool{path: path, f: f}
	total := spoolSize(n, size)
	if err := f.Truncate(0); err != nil {
		sp.close(false)
		return nil, rec, fmt.Errorf("logging: spool: %w", err)
	}
	// Reserve the blocks now: a store into a page of a sparse mapped file that
	// the disk has no room for kills the process with SIGBUS.
	if err := reserveFile(f, int64(total)); err != nil {
		sp.close(true)
		return nil, rec, fmt.Errorf("logging: spool: %w", err)
	}
	if sp.mem, err = mapFile(f, total); err != nil {
		sp.close(true)
		return nil, rec, fmt.Errorf("logging: spool: %w", err)
	}
	initSpool(sp.mem, n, size)
	return sp, rec, nil
}

// close unmaps the spool, removes the file if remove is set (everything in
// it was written), and releases the lock.
func (sp *spool) close(remove bool) error {
	var errs []error
	if sp.mem != nil {
		if err := unmapFile(sp.mem); err != nil {
			errs = append(errs, err)
		}
		sp.mem = nil
	}
	if remove {
		if err := os.Remove(sp.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := sp.f.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("logging: spool: %w", err)
	}
	return nil
}

// spoolSlot is one recoverable slot read from a spool header.
type spoolSlot struct {
	index         int
	state, flags  uint32
	length, wrote uint32
	seq, off      uint64
	dev, ino      uint64
}

// recoverSpool writes the records a spool holds to out, in the order they
// were accepted. It returns errSpoolCorrupt for a file whose header is not a
// spool's, and the output's error if writing fails (the spool is then left
// untouched for the next attempt).
func recoverSpool(f io.ReaderAt, out *output) (recovery, error) {
	var rec recovery
	var hdr [fileHeaderSize]byte
	if n, err := f.ReadAt(hdr[:], 0); n == 0 && (err == io.EOF || err == nil) {
		return rec, nil // empty file: nothing to recover
	} else if n < len(hdr) {
		return rec, errSpoolCorrupt
	}
	if string(hdr[:8]) != spoolMagic || binary.LittleEndian.Uint32(hdr[8:]) != spoolVersion {
		return rec, errSpoolCorrupt
	}
	n := int(binary.LittleEndian.Uint32(hdr[12:]))
	size := int(binary.LittleEndian.Uint32(hdr[16:]))
	if n < 1 || n > maxBuffers || size < 1 || size > maxBufferSize {
		return rec, errSpoolCorrupt
	}
	var last [1]byte // the file must be as long as its header says, which bounds what is read below
	if _, err := f.ReadAt(last[:], int64(spoolSize(n, size))-1); err != nil {
		return rec, errSpoolCorrupt
	}
	heads := make([]byte, slotHeaderSize*n)
	if _, err := f.ReadAt(heads, fileHeaderSize); err != nil {
		return rec, errSpoolCorrupt
	}
	var slots []spoolSlot
	for i := range n {
		h := heads[i*slotHeaderSize:]
		s := spoolSlot{
			index:  i,
			state:  binary.LittleEndian.Uint32(h[hState:]),
			length: binary.LittleEndian.Uint32(h[hLen:]),
			seq:    binary.LittleEndian.Uint64(h[hSeq:]),
			flags:  binary.LittleEndian.Uint32(h[hFlags:]),
			wrote:  binary.LittleEndian.Uint32(h[hWritten:]),
			off:    binary.LittleEndian.Uint64(h[hOff:]),
			dev:    binary.LittleEndian.Uint64(h[hDev:]),
			ino:    binary.LittleEndian.Uint64(h[hIno:]),
		}
		switch s.state {
		case slotFilling, slotPending, slotWriting:
		default:
			continue // free, or reserved (a record whose Handle never returned)
		}
		if s.length > uint32(size) || s.wrote > s.length {
			return rec, errSpoolCorrupt
		}
		slots = append(slots, s)
	}
	slices.SortFunc(slots, func(a, b spoolSlot) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	// A record spread over several slots counts only if all of them made it:
	// drop a run of flagCont slots not followed by the next sequence number.
	keep := slots[:0]
	for i := 0; i < len(slots); {
		j := i
		for j < len(slots) && slots[j].flags&flagCont != 0 && j+1 < len(slots) && slots[j+1].seq == slots[j].seq+1 {
			j++
		}
		if slots[j].flags&flagCont == 0 {
			keep = append(keep, slots[i:j+1]...)
		}
		i = j + 1
	}
	dataOff := int64(spoolDataOff(n))
	for _, s := range keep {
		if s.wrote == s.length {
			continue
		}
		data := make([]byte, s.length-s.wrote)
		if _, err := f.ReadAt(data, dataOff+int64(s.index)*int64(size)+int64(s.wrote)); err != nil {
			return rec, errSpoolCorrupt
		}
		// The duplicate window: the writer had written this slot (or part of
		// it) but died before marking it free. If those bytes are where it
		// noted they would go, they are not written again.
		if s.state == slotWriting && out.holds(s.dev, s.ino, int64(s.off), data) {
			rec.skipped += int64(len(data))
			continue
		}
		if err := out.write(data); err != nil {
			return rec, fmt.Errorf("logging: writing recovered records: %w", err)
		}
		rec.bytes += int64(len(data))
		rec.records += int64(bytes.Count(data, []byte{'\n'}))
	}
	return rec, nil
}
