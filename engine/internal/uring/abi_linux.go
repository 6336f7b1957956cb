package uring

import (
	"syscall"
	"unsafe"
)

// The kernel ABI (include/uapi/linux/io_uring.h), written out because
// golang.org/x/sys/unix has the system call numbers but none of the
// structures or constants. Only what this package uses is here; the names
// follow the header so that a reader can grep for them.

// Setup flags (io_uring_params.flags).
const (
	SetupClamp        uint32 = 1 << 4  // IORING_SETUP_CLAMP: clamp ring sizes instead of failing
	SetupRDisabled    uint32 = 1 << 6  // IORING_SETUP_R_DISABLED: start disabled, see Ring.Enable
	SetupSubmitAll    uint32 = 1 << 7  // IORING_SETUP_SUBMIT_ALL: keep submitting after an SQE fails
	SetupCoopTaskrun  uint32 = 1 << 8  // IORING_SETUP_COOP_TASKRUN: no IPI to run completions
	SetupTaskrunFlag  uint32 = 1 << 9  // IORING_SETUP_TASKRUN_FLAG: IORING_SQ_TASKRUN tells that work is pending
	SetupSingleIssuer uint32 = 1 << 12 // IORING_SETUP_SINGLE_ISSUER: one thread submits
	SetupDeferTaskrun uint32 = 1 << 13 // IORING_SETUP_DEFER_TASKRUN: completions run only in io_uring_enter(GETEVENTS)

	setupCQSize uint32 = 1 << 3 // IORING_SETUP_CQSIZE
)

// Feature flags reported by the kernel (io_uring_params.features).
const (
	FeatSingleMmap uint32 = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	FeatNoDrop     uint32 = 1 << 1 // IORING_FEAT_NODROP: CQEs are never dropped when the CQ is full
	FeatFastPoll   uint32 = 1 << 5 // IORING_FEAT_FAST_POLL: network ops poll internally instead of using a thread
	FeatExtArg     uint32 = 1 << 8 // IORING_FEAT_EXT_ARG: io_uring_enter takes a timeout
)

// Opcodes (enum io_uring_op).
const (
	OpNop          uint8 = 0
	OpWritev       uint8 = 2
	OpPollAdd      uint8 = 6
	OpPollRemove   uint8 = 7
	OpSendmsg      uint8 = 9
	OpTimeout      uint8 = 11
	OpTimeoutRem   uint8 = 12
	OpAccept       uint8 = 13
	OpAsyncCancel  uint8 = 14
	OpLinkTimeout  uint8 = 15
	OpClose        uint8 = 19
	OpSend         uint8 = 26
	OpRecv         uint8 = 27
	OpSplice       uint8 = 30
	OpShutdown     uint8 = 34
	OpMsgRing      uint8 = 40
	probeOpsLength       = 256
)

// SQE flags (io_uring_sqe.flags).
const (
	SQEIOLink       uint8 = 1 << 2 // IOSQE_IO_LINK: the next SQE starts after this one succeeds
	SQEIOHardlink   uint8 = 1 << 3 // IOSQE_IO_HARDLINK: ... whatever this one's result
	SQEAsync        uint8 = 1 << 4 // IOSQE_ASYNC
	SQEBufferSelect uint8 = 1 << 5 // IOSQE_BUFFER_SELECT: take a buffer from the group in BufIndex
	SQECQESkip      uint8 = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: post no CQE on success
)

// Per-opcode flags.
const (
	recvMultishot   uint16 = 1 << 1 // IORING_RECV_MULTISHOT (ioprio)
	acceptMultishot uint16 = 1 << 0 // IORING_ACCEPT_MULTISHOT (ioprio)
	pollAddMulti    uint32 = 1 << 0 // IORING_POLL_ADD_MULTI (len)

	CancelAll uint32 = 1 << 0 // IORING_ASYNC_CANCEL_ALL: every match, not the first
	CancelFd  uint32 = 1 << 1 // IORING_ASYNC_CANCEL_FD: match on the descriptor, not user_data

	timeoutAbs uint32 = 1 << 0 // IORING_TIMEOUT_ABS

	msgData uint64 = 0 // IORING_MSG_DATA (addr of a MSG_RING SQE)
)

// CQE flags (io_uring_cqe.flags).
const (
	CQEFBuffer     uint32 = 1 << 0 // IORING_CQE_F_BUFFER: the upper 16 bits are a buffer id
	CQEFMore       uint32 = 1 << 1 // IORING_CQE_F_MORE: the multishot request stays armed
	CQEFSockEmpty  uint32 = 1 << 2 // IORING_CQE_F_SOCK_NONEMPTY: more data was left to read
	CQEFBufMore    uint32 = 1 << 4 // IORING_CQE_F_BUF_MORE: an incremental buffer was not used up
	cqeBufferShift        = 16
)

// Ring flags in shared memory.
const (
	sqNeedWakeup      uint32 = 1 << 0 // IORING_SQ_NEED_WAKEUP
	sqCQOverflow      uint32 = 1 << 1 // IORING_SQ_CQ_OVERFLOW
	sqTaskrun         uint32 = 1 << 2 // IORING_SQ_TASKRUN
	cqEventfdDisabled uint32 = 1 << 0 // IORING_CQ_EVENTFD_DISABLED
	offSQRing         int64  = 0
	offCQRing         int64  = 0x8000000
	offSQEs           int64  = 0x10000000
	pbufRingIncrement uint16 = 2 // IOU_PBUF_RING_INC
	probeOpSupported  uint16 = 1 // IO_URING_OP_SUPPORTED
	maxBufRingEntries        = 1 << 15
)

// io_uring_enter flags.
const (
	enterGetEvents uint32 = 1 << 0 // IORING_ENTER_GETEVENTS
	enterExtArg    uint32 = 1 << 3 // IORING_ENTER_EXT_ARG
)

// io_uring_register opcodes.
const (
	registerEventfd     = 4
	unregisterEventfd   = 5
	registerProbe       = 8
	registerEnableRings = 12
	registerPbufRing    = 22
	unregisterPbufRing  = 23
)

// SQE is a submission queue entry (struct io_uring_sqe), 64 bytes. The
// unions of the C struct are named after the use this package makes of them.
type SQE struct {
	Opcode   uint8
	Flags    uint8
	Ioprio   uint16 // ioprio; the multishot and send/recv flags of network ops
	Fd       int32
	Off      uint64 // off, addr2
	Addr     uint64 // addr, splice_off_in
	Len      uint32
	OpFlags  uint32 // rw_flags, msg_flags, accept_flags, cancel_flags, timeout_flags, poll32_events, splice_flags...
	UserData uint64
	BufIndex uint16 // buf_index, buf_group
	_        uint16 // personality
	FdIn     int32  // splice_fd_in, file_index
	Addr3    uint64
	_        uint64
}

// CQE is a completion queue entry (struct io_uring_cqe), 16 bytes.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// More reports whether the multishot request that posted c is still armed.
func (c *CQE) More() bool { return c.Flags&CQEFMore != 0 }

// Err returns the error of a failed request (a negative Res) as a
// syscall.Errno, or nil.
func (c *CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}

// BufferID returns the provided buffer c filled, and whether there is one.
func (c *CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// getEventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWaitUs uint32 // pad before 6.12
	ts        uint64
}

type probeOp struct {
	op    uint8
	_     uint8
	flags uint16
	_     uint32
}

type probe struct {
	lastOp uint8
	opsLen uint8
	_      uint16
	_      [3]uint32
	ops    [probeOpsLength]probeOp
}

// bufReg is struct io_uring_buf_reg (IORING_REGISTER_PBUF_RING).
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	_           [3]uint64
}

// bufRingEntry is struct io_uring_buf; the ring's tail overlays the last
// 16 bits of entry 0 (its resv field).
type bufRingEntry struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// Compile-time size checks against the C layout.
var (
	_ [64 - unsafe.Sizeof(SQE{})]struct{}
	_ [unsafe.Sizeof(SQE{}) - 64]struct{}
	_ [16 - unsafe.Sizeof(CQE{})]struct{}
	_ [120 - unsafe.Sizeof(params{})]struct{}
	_ [unsafe.Sizeof(params{}) - 120]struct{}
	_ [24 - unsafe.Sizeof(getEventsArg{})]struct{}
	_ [40 - unsafe.Sizeof(bufReg{})]struct{}
	_ [16 - unsafe.Sizeof(bufRingEntry{})]struct{}
	_ [16 + 8*probeOpsLength - unsafe.Sizeof(probe{})]struct{}
)
