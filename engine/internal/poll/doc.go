// Package poll holds the Linux system calls under wharf's reactor engine:
// epoll, eventfd, non-blocking socket I/O without allocation, accept4 with the
// peer address decoded in place, and socket options.
//
// Calls that cannot block (epoll_wait with a zero timeout, read, write, readv,
// writev and accept4 on non-blocking descriptors, epoll_ctl) use RawSyscall so
// the event loop does not pay the scheduler's entersyscall/exitsyscall toll on
// every operation. Only a blocking epoll_wait goes through Syscall, so the
// runtime can hand the loop's P to other goroutines while it sleeps.
//
// Errors are raw syscall.Errno values (comparable with ==, and no allocation
// for the common ones); callers wrap them with what failed.
package poll
