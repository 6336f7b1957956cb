package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// SQE preparation. Each Prep method fills a zeroed SQE (from GetSQE) for
// one request; the caller then sets UserData and, where wanted, Flags
// (SQEIOLink, SQECQESkip).
//
// Memory: an SQE carries addresses, not Go references. Whatever a request
// points to (a send's bytes, a msghdr and its iovecs) must stay reachable
// and unchanged until the request's final CQE: the kernel reads it
// asynchronously. Go's collector does not move heap objects, so keeping a
// reference is enough; nothing a request points to may live on a
// goroutine stack, which can move.

func addr(p unsafe.Pointer) uint64 { return uint64(uintptr(p)) }

// PrepNop prepares a request that does nothing and completes with 0.
func (s *SQE) PrepNop() { s.Opcode = OpNop }

// PrepAcceptMultishot prepares a multishot accept on listening socket fd:
// one CQE per accepted connection (Res is the new descriptor, created with
// flags such as unix.SOCK_CLOEXEC), with CQEFMore set while the request
// stays armed. Peer addresses are not reported (getpeername).
func (s *SQE) PrepAcceptMultishot(fd int, flags int) {
	s.Opcode = OpAccept
	s.Fd = int32(fd)
	s.OpFlags = uint32(flags)
	s.Ioprio = acceptMultishot
}

// PrepRecvMultishot prepares a multishot receive on socket fd into buffers
// of the provided buffer group: one CQE per chunk of data received, each
// with CQEFBuffer and the id of the buffer it filled, and CQEFMore while the
// request stays armed. It ends (no CQEFMore) at EOF (Res 0), on an error,
// and when the group has no free buffer (Res -ENOBUFS): the caller re-arms
// it once buffers are back.
func (s *SQE) PrepRecvMultishot(fd int, group uint16) {
	s.Opcode = OpRecv
	s.Fd = int32(fd)
	s.Ioprio = recvMultishot
	s.Flags = SQEBufferSelect
	s.BufIndex = group
}

// PrepRecv prepares a single receive into p.
func (s *SQE) PrepRecv(fd int, p []byte, flags int) { s.prepBuf(OpRecv, fd, p, flags) }

// prepBuf fills a request on fd over the bytes of p.
func (s *SQE) prepBuf(op uint8, fd int, p []byte, flags int) {
	s.Opcode = op
	s.Fd = int32(fd)
	if len(p) > 0 {
		s.Addr = addr(unsafe.Pointer(&p[0]))
	}
	s.Len = uint32(len(p))
	s.OpFlags = uint32(flags)
}

// PrepSend prepares a send of p on socket fd with msg flags (add
// unix.MSG_NOSIGNAL: a send to a closed peer must fail with EPIPE, not
// raise SIGPIPE). On a stream socket it may complete with fewer bytes than
// asked for; the caller sends the rest.
func (s *SQE) PrepSend(fd int, p []byte, flags int) { s.prepBuf(OpSend, fd, p, flags) }

// PrepSendmsg prepares a sendmsg of msg (and the iovecs it points to) on
// socket fd; with several iovecs it is a gathering send, one request for
// many buffers.
func (s *SQE) PrepSendmsg(fd int, msg *unix.Msghdr, flags int) {
	s.Opcode = OpSendmsg
	s.Fd = int32(fd)
	s.Addr = addr(unsafe.Pointer(msg))
	s.Len = 1
	s.OpFlags = uint32(flags)
}

// PrepWritev prepares a writev of iov to fd at offset off (^uint64(0): the
// file position, and the only choice for sockets and pipes).
func (s *SQE) PrepWritev(fd int, iov []unix.Iovec, off uint64) {
	s.Opcode = OpWritev
	s.Fd = int32(fd)
	if len(iov) > 0 {
		s.Addr = addr(unsafe.Pointer(&iov[0]))
	}
	s.Len = uint32(len(iov))
	s.Off = off
}

// NoOffset is the offset of splice and writev requests that use (and move)
// the descriptor's own position, as pipes and sockets must.
const NoOffset = ^uint64(0)

// PrepSplice prepares a splice of n bytes from fdIn at offIn to fdOut at
// offOut (NoOffset for a pipe or socket end). One end must be a pipe; a
// file-to-socket transfer is two splices, file to pipe and pipe to socket,
// usually linked (SQEIOLink). flags are splice(2) flags.
func (s *SQE) PrepSplice(fdIn int, offIn uint64, fdOut int, offOut uint64, n uint32, flags uint32) {
	s.Opcode = OpSplice
	s.FdIn = int32(fdIn)
	s.Addr = offIn
	s.Fd = int32(fdOut)
	s.Off = offOut
	s.Len = n
	s.OpFlags = flags
}

// PrepClose prepares closing fd. Requests still in flight on it keep the
// file open until they complete or are cancelled.
func (s *SQE) PrepClose(fd int) {
	s.Opcode = OpClose
	s.Fd = int32(fd)
}

// PrepShutdown prepares shutdown(2) of socket fd (unix.SHUT_WR...).
func (s *SQE) PrepShutdown(fd int, how int) {
	s.Opcode = OpShutdown
	s.Fd = int32(fd)
	s.Len = uint32(how)
}

// PrepTimeout prepares a timeout: it completes with -ETIME after ts
// (relative, or absolute CLOCK_MONOTONIC with abs), or with 0 once count
// other requests have completed (count 0: only the time counts). The
// kernel reads ts when the SQE is submitted.
func (s *SQE) PrepTimeout(ts *unix.Timespec, count uint32, abs bool) {
	s.Opcode = OpTimeout
	s.Addr = addr(unsafe.Pointer(ts))
	s.Len = 1
	s.Off = uint64(count)
	if abs {
		s.OpFlags = timeoutAbs
	}
}

// PrepTimeoutRemove prepares the removal of the timeout submitted with
// userData; that timeout then completes with -ECANCELED.
func (s *SQE) PrepTimeoutRemove(userData uint64) {
	s.Opcode = OpTimeoutRem
	s.Addr = userData
}

// PrepLinkTimeout prepares a timeout for the previous SQE, which must carry
// SQEIOLink: if it has not completed after ts it is cancelled (-ECANCELED)
// and this one completes with -ETIME; otherwise this one completes with
// -ECANCELED.
func (s *SQE) PrepLinkTimeout(ts *unix.Timespec) {
	s.Opcode = OpLinkTimeout
	s.Addr = addr(unsafe.Pointer(ts))
	s.Len = 1
}

// PrepCancel prepares the cancellation of the request submitted with
// userData (flags: CancelAll to cancel every request with it). The
// cancelled request completes with -ECANCELED; this one with 0, -ENOENT
// (nothing matched) or -EALREADY (too late to stop it).
func (s *SQE) PrepCancel(userData uint64, flags uint32) {
	s.Opcode = OpAsyncCancel
	s.Addr = userData
	s.OpFlags = flags
}

// PrepCancelFd prepares the cancellation of the requests on fd (flags:
// CancelAll for all of them, not only the first).
func (s *SQE) PrepCancelFd(fd int, flags uint32) {
	s.Opcode = OpAsyncCancel
	s.Fd = int32(fd)
	s.OpFlags = flags | CancelFd
}

// PrepPollAdd prepares a poll of fd for events (unix.POLLIN...). A
// multishot poll posts a CQE with CQEFMore each time fd becomes ready, the
// way an edge-triggered epoll registration would.
func (s *SQE) PrepPollAdd(fd int, events uint32, multishot bool) {
	s.Opcode = OpPollAdd
	s.Fd = int32(fd)
	s.OpFlags = events
	if multishot {
		s.Len = pollAddMulti
	}
}

// PrepPollRemove prepares the removal of the poll submitted with userData.
func (s *SQE) PrepPollRemove(userData uint64) {
	s.Opcode = OpPollRemove
	s.Addr = userData
}

// PrepMsgRing prepares posting a CQE with res and userData on another ring
// (ringFd): the way one ring's owner wakes another's.
func (s *SQE) PrepMsgRing(ringFd int, res uint32, userData uint64) {
	s.Opcode = OpMsgRing
	s.Fd = int32(ringFd)
	s.Addr = msgData
	s.Len = res
	s.Off = userData
}
