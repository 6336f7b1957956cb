// Package uring is a minimal io_uring interface for wharf's Uring engine
// backend, written on golang.org/x/sys/unix: no cgo, no liburing.
//
// # What is here
//
// A Ring (New) is one io_uring instance with its submission queue (SQ) and
// completion queue (CQ) mapped into the process. A request is an SQE taken
// with GetSQE and filled by one of the Prep methods (multishot accept,
// multishot receive into provided buffers, send, sendmsg, writev, splice,
// close, shutdown, timeouts, linked timeouts, cancellation, poll, msg_ring);
// SubmitAndGet hands the batch to the kernel in one io_uring_enter and runs
// the completions the kernel deferred to this thread; Reap copies the
// resulting CQEs out. Wait does the same but sleeps until a CQE is ready or
// a timeout passes (IORING_ENTER_EXT_ARG). A BufRing (Ring.NewBufRing) is a
// provided buffer ring: receives take a buffer from it only when data
// arrives, so an idle connection pins none. Probe reports the opcodes the
// kernel supports.
//
// # Threads
//
// New asks for IORING_SETUP_SINGLE_ISSUER and IORING_SETUP_DEFER_TASKRUN
// (DefaultFlags) and drops, on EINVAL, one flag at a time. With them, the
// kernel runs the second half of every network completion (the copy of the
// received bytes, the CQE) only inside io_uring_enter(GETEVENTS) called by
// the ring's one thread, never by interrupting some other thread: exactly
// an event loop's model. The price in Go is runtime.LockOSThread: the
// kernel checks the calling thread, and a goroutine moves between threads.
// A ring created with Options.Disabled is bound to the thread that calls
// Enable, so it can be created on one goroutine and used on another.
//
// # Sleeping
//
// An idle loop can block its thread in Wait, or park its goroutine on the
// Go runtime's netpoller: RegisterEventfd makes the kernel signal an
// eventfd when completion work arrives, and the eventfd, unlike a
// DEFER_TASKRUN ring's own descriptor (whose poll is woken only by posted
// CQEs, which that mode posts only inside io_uring_enter), is a readiness
// source the netpoller can wait on. SetEventfdEnabled silences those
// signals while the loop runs. WorkPending tells that the last
// SubmitAndGet left completion work behind (the kernel caps one call at a
// few dozen items) and the loop must not sleep yet.
//
// # Memory
//
// Shared heads and tails are accessed with sync/atomic (see Ring). SQEs
// carry raw addresses: whatever a request points to must stay reachable
// and unchanged until its final CQE, and must not live on a goroutine
// stack. A provided buffer belongs to the kernel while it is in the ring
// and to the process from the CQE that names it until Recycle (BufRing).
//
// Errors are typed (SetupError, EnterError, RegisterError) and wrap the
// errno; errors.Is(err, ErrUnsupported) distinguishes "no io_uring here"
// (ENOSYS, EPERM from kernel.io_uring_disabled or seccomp) from a resource
// failure.
package uring
