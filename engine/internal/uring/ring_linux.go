package uring

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options configure New. The zero value is a 256-entry ring with the
// default flags.
type Options struct {
	// Entries is the submission queue size, rounded up to a power of two by
	// the kernel; default 256.
	Entries uint32
	// CQEntries is the completion queue size; default 4 × Entries. It
	// bounds how many completions may wait between two reaps without going
	// to the kernel's overflow list.
	CQEntries uint32
	// Flags are the setup flags wanted; default DefaultFlags. Flags the
	// kernel rejects with EINVAL are dropped one by one, newest first (see
	// Ring.Flags for what was kept).
	Flags uint32
	// Disabled creates the ring with IORING_SETUP_R_DISABLED: nothing can
	// be submitted until Enable, and with SetupSingleIssuer the thread
	// that calls Enable becomes the ring's only submitter.
	Disabled bool
}

// DefaultFlags are the setup flags a single-threaded event loop wants: one
// issuer, completions run only when the loop asks for events (no task work
// interrupting other threads), no inter-processor interrupts, a flag that
// says when completions are waiting to be run, and batches that go on
// past a failed SQE.
const DefaultFlags = SetupSingleIssuer | SetupDeferTaskrun | SetupCoopTaskrun | SetupTaskrunFlag | SetupSubmitAll

// dropOrder is the order in which New gives up flags the kernel refuses:
// newest first, and each before the flags it depends on (DEFER_TASKRUN
// needs SINGLE_ISSUER; TASKRUN_FLAG needs COOP_TASKRUN or DEFER_TASKRUN).
var dropOrder = []uint32{SetupDeferTaskrun, SetupSingleIssuer, SetupTaskrunFlag, SetupCoopTaskrun, SetupSubmitAll}

// Ring is one io_uring instance: its submission and completion queues
// mapped into the process.
//
// A Ring is owned by one goroutine (an event loop): GetSQE, Submit, Enter,
// Reap and the registration methods are not synchronised. With
// SetupSingleIssuer that goroutine must also stay on one OS thread
// (runtime.LockOSThread), the thread that created the ring or called Enable.
//
// Memory ordering: the kernel and the process share the queue heads and
// tails. The process is the only writer of the SQ tail and the CQ head, the
// kernel of the SQ head and the CQ tail. Every access to them here is a
// sync/atomic load or store, which Go defines as sequentially consistent:
// at least the acquire (load) and release (store) the kernel's
// smp_load_acquire/smp_store_release pair with. SQEs are written before the
// tail store that publishes them; CQEs are read after the tail load that
// covers them and before the head store that gives their slots back.
type Ring struct {
	fd       int
	flags    uint32 // setup flags in effect
	features uint32

	ringMem []byte // SQ and CQ rings (one mapping with FeatSingleMmap)
	cqMem   []byte // the CQ ring when it is mapped separately
	sqeMem  []byte

	sqHead, sqTail, sqFlags *uint32 // shared
	sqMask, sqEntries       uint32
	sqes                    []SQE
	sqLocal                 uint32 // tail of the SQEs handed out by GetSQE, published by flush

	cqHead, cqTail, cqFlags *uint32 // shared
	cqOverflow              *uint32
	cqMask                  uint32
	cqes                    []CQE

	// Arguments of a waiting io_uring_enter, kept here rather than on the
	// stack so that their addresses stay fixed while the kernel reads them.
	arg getEventsArg
	ts  unix.Timespec
}

// New creates a ring. Errors are *SetupError values: errors.Is(err,
// ErrUnsupported) tells that io_uring is missing, disabled or forbidden
// here, as opposed to a resource problem.
func New(o Options) (*Ring, error) {
	if o.Entries == 0 {
		o.Entries = 256
	}
	if o.CQEntries == 0 {
		o.CQEntries = 4 * o.Entries
	}
	if o.Flags == 0 {
		o.Flags = DefaultFlags
	}
	flags := o.Flags
	var p params
	var fd int
	for {
		p = params{sqEntries: o.Entries, cqEntries: o.CQEntries, flags: flags | SetupClamp | setupCQSize}
		if o.Disabled {
			p.flags |= SetupRDisabled
		}
		r, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(o.Entries), uintptr(unsafe.Pointer(&p)), 0)
		if e == 0 {
			fd = int(r)
			break
		}
		if e != unix.EINVAL {
			return nil, &SetupError{Op: "io_uring_setup", Err: e}
		}
		dropped := false
		for _, f := range dropOrder {
			if flags&f != 0 {
				flags &^= f
				dropped = true
				break
			}
		}
		if !dropped {
			return nil, &SetupError{Op: "io_uring_setup", Err: e}
		}
	}
	r := &Ring{fd: fd, flags: flags, features: p.features}
	if err := r.mmap(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(CQE{}))
	size := sqSize
	single := p.features&FeatSingleMmap != 0
	if single {
		size = max(sqSize, cqSize)
	}
	var err error
	if r.ringMem, err = unix.Mmap(r.fd, offSQRing, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return &SetupError{Op: "mmap rings", Err: err}
	}
	cqMem := r.ringMem
	if !single {
		if r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return &SetupError{Op: "mmap completion ring", Err: err}
		}
		cqMem = r.cqMem
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(SQE{}))
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return &SetupError{Op: "mmap submission entries", Err: err}
	}
	sq := r.ringMem
	r.sqHead = word(sq, p.sqOff.head)
	r.sqTail = word(sq, p.sqOff.tail)
	r.sqFlags = word(sq, p.sqOff.flags)
	r.sqMask = *word(sq, p.sqOff.ringMask)
	r.sqEntries = *word(sq, p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)
	// The indirection array maps ring slots to SQE indexes. Slot i always
	// names SQE i, so it is filled once and the SQE array is used as a ring.
	array := unsafe.Slice(word(sq, p.sqOff.array), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqLocal = atomic.LoadUint32(r.sqTail)

	r.cqHead = word(cqMem, p.cqOff.head)
	r.cqTail = word(cqMem, p.cqOff.tail)
	r.cqOverflow = word(cqMem, p.cqOff.overflow)
	if p.cqOff.flags != 0 {
		r.cqFlags = word(cqMem, p.cqOff.flags)
	}
	r.cqMask = *word(cqMem, p.cqOff.ringMask)
	n := *word(cqMem, p.cqOff.ringEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cqMem[p.cqOff.cqes])), n)
	return nil
}

func word(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// Close unmaps the queues and closes the ring. The kernel cancels what is
// still in flight; buffers those requests point to must stay untouched until
// then, which is why an engine drains its requests before closing.
func (r *Ring) Close() error {
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.ringMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqeMem, r.cqMem, r.ringMem, r.sqes, r.cqes = nil, nil, nil, nil, nil
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// Fd returns the ring's descriptor.
func (r *Ring) Fd() int { return r.fd }

// Flags returns the setup flags in effect (Options.Flags minus those the
// kernel refused).
func (r *Ring) Flags() uint32 { return r.flags }

// Features returns the kernel's IORING_FEAT_* bits.
func (r *Ring) Features() uint32 { return r.features }

// SQEntries returns the submission queue size.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }

// CQEntries returns the completion queue size.
func (r *Ring) CQEntries() uint32 { return uint32(len(r.cqes)) }

// GetSQE returns a zeroed SQE to fill, or nil when the submission queue is
// full (Submit, then try again). The SQE goes to the kernel with the next
// Submit or Enter.
func (r *Ring) GetSQE() *SQE {
	if r.sqLocal-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqLocal&r.sqMask]
	r.sqLocal++
	*sqe = SQE{}
	return sqe
}

// Pending returns the SQEs handed out and not yet consumed by the kernel.
func (r *Ring) Pending() uint32 { return r.sqLocal - atomic.LoadUint32(r.sqHead) }

// flush publishes the SQEs handed out so far and returns how many the
// kernel has yet to consume.
func (r *Ring) flush() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqLocal)
	return r.sqLocal - atomic.LoadUint32(r.sqHead)
}

// Submit hands the pending SQEs to the kernel without waiting for or
// running completions, and returns how many it took. It does not block
// (network requests that cannot complete at once are queued by the kernel).
func (r *Ring) Submit() (int, error) {
	n := r.flush()
	if n == 0 {
		return 0, nil
	}
	return r.enter(n, 0)
}

// SubmitAndGet submits the pending SQEs and, in the same system call, runs
// the completion work the kernel deferred to this thread
// (SetupDeferTaskrun) so that the CQEs are ready to Reap. It does not block.
func (r *Ring) SubmitAndGet() error {
	_, err := r.enter(r.flush(), enterGetEvents)
	return err
}

// Wait submits the pending SQEs and blocks the thread until at least one
// CQE is ready or timeout has passed (timeout < 0: no limit; the kernel
// must support FeatExtArg for a timeout). Interruption by a signal and the
// timeout are not errors: the caller reaps whatever is there.
func (r *Ring) Wait(timeout time.Duration) error {
	n := r.flush()
	flags := enterGetEvents
	var argp unsafe.Pointer
	if timeout >= 0 {
		r.ts = unix.NsecToTimespec(int64(timeout))
		r.arg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.ts)))}
		argp = unsafe.Pointer(&r.arg)
		flags |= enterExtArg
	}
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(n), 1, uintptr(flags),
		uintptr(argp), unsafe.Sizeof(r.arg))
	switch e {
	case 0, unix.EINTR, unix.ETIME:
		return nil
	}
	return &EnterError{Err: e}
}

// enter is io_uring_enter for calls that do not wait: a raw system call,
// without the scheduler's bookkeeping around a blocking one.
func (r *Ring) enter(toSubmit, flags uint32) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), 0, uintptr(flags), 0, 0)
	if e != 0 {
		if e == unix.EINTR {
			return 0, nil
		}
		return 0, &EnterError{Err: e}
	}
	return int(n), nil
}

// Ready returns the number of CQEs waiting to be reaped.
func (r *Ring) Ready() uint32 { return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead) }

// Reap copies up to len(dst) waiting CQEs into dst, gives their slots back
// to the kernel and returns how many it copied.
func (r *Ring) Reap(dst []CQE) int {
	head := atomic.LoadUint32(r.cqHead) // written only by us; atomic for the race detector's sake
	n := atomic.LoadUint32(r.cqTail) - head
	if n == 0 {
		return 0
	}
	if uint32(len(dst)) < n {
		n = uint32(len(dst))
	}
	for i := uint32(0); i < n; i++ {
		dst[i] = r.cqes[(head+i)&r.cqMask]
	}
	atomic.StoreUint32(r.cqHead, head+n)
	return int(n)
}

// WorkPending reports whether the kernel has completion work queued for
// this ring's thread that the last enter did not run (SetupTaskrunFlag; it
// caps the work one call runs), or CQEs in its overflow list. Either way a
// SubmitAndGet now yields more CQEs; an idle loop checks it before it
// sleeps.
func (r *Ring) WorkPending() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqTaskrun|sqCQOverflow) != 0
}

// Dropped returns the CQ overflow counter: CQEs the kernel could not post
// (without FeatNoDrop, lost; with it, kept until there is room).
func (r *Ring) Dropped() uint32 { return atomic.LoadUint32(r.cqOverflow) }

// Enable starts a ring created with Options.Disabled. With
// SetupSingleIssuer the calling thread becomes the only one allowed to
// submit.
func (r *Ring) Enable() error { return r.register(registerEnableRings, nil, 0) }

// RegisterEventfd makes the kernel signal fd when completions are posted
// (or, with SetupDeferTaskrun, when completion work is queued for the
// ring's thread): a ring's loop can then sleep on fd like on any
// descriptor.
func (r *Ring) RegisterEventfd(fd int) error {
	v := int32(fd)
	return r.register(registerEventfd, unsafe.Pointer(&v), 1)
}

// SetEventfdEnabled turns the registered eventfd's signals on or off
// (IORING_CQ_EVENTFD_DISABLED). A loop turns them off while it runs, so
// its own completions do not signal it, and on before it sleeps.
func (r *Ring) SetEventfdEnabled(on bool) {
	if r.cqFlags == nil {
		return
	}
	if on {
		atomicAnd(r.cqFlags, ^cqEventfdDisabled)
	} else {
		atomicOr(r.cqFlags, cqEventfdDisabled)
	}
}

// The CQ flags word is written by the process only; the kernel reads it.
func atomicAnd(p *uint32, v uint32) { atomic.StoreUint32(p, atomic.LoadUint32(p)&v) }
func atomicOr(p *uint32, v uint32)  { atomic.StoreUint32(p, atomic.LoadUint32(p)|v) }

func (r *Ring) register(op uintptr, arg unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), n, 0, 0)
	if e != 0 {
		return &RegisterError{Op: registerName(op), Err: e}
	}
	return nil
}

func registerName(op uintptr) string {
	switch op {
	case registerEventfd:
		return "IORING_REGISTER_EVENTFD"
	case unregisterEventfd:
		return "IORING_UNREGISTER_EVENTFD"
	case registerProbe:
		return "IORING_REGISTER_PROBE"
	case registerEnableRings:
		return "IORING_REGISTER_ENABLE_RINGS"
	case registerPbufRing:
		return "IORING_REGISTER_PBUF_RING"
	case unregisterPbufRing:
		return "IORING_UNREGISTER_PBUF_RING"
	}
	return fmt.Sprintf("io_uring_register op %d", op)
}

// Probe asks the kernel which opcodes it supports.
func (r *Ring) Probe() (*Probe, error) {
	p := new(probe)
	if err := r.register(registerProbe, unsafe.Pointer(p), probeOpsLength); err != nil {
		return nil, err
	}
	pr := &Probe{last: p.lastOp}
	for i := 0; i < int(p.opsLen) && i < probeOpsLength; i++ {
		if p.ops[i].flags&probeOpSupported != 0 {
			pr.ops[p.ops[i].op/64] |= 1 << (p.ops[i].op % 64)
		}
	}
	return pr, nil
}

// Probe is the set of opcodes a kernel supports.
type Probe struct {
	ops  [4]uint64
	last uint8
}

// Supports reports whether op is supported.
func (p *Probe) Supports(op uint8) bool { return p.ops[op/64]&(1<<(op%64)) != 0 }
