package engine

import (
	"golang.org/x/sys/unix"

	"wharf/engine/internal/poll"
)

// ioDriver is how a loop talks to the kernel. The reactor's driver
// (epollIO) waits for readiness and then reads, writes and accepts with
// system calls; the uring driver (uringIO) hands the kernel requests and
// handles their completions. Everything else a loop does (tasks, timers,
// callbacks, the outbound backlog and its accounting, closing) is the same
// for both and lives on loop. A driver is owned by its loop: every method
// but wake and close runs on the loop's goroutine.
type ioDriver interface {
	// needsThread reports whether the loop must stay on one OS thread.
	needsThread() bool
	// start runs first on the loop's goroutine (after the thread is
	// locked).
	start() error
	// wait blocks until events are ready, a wake-up arrives or ms
	// milliseconds pass (ms < 0: no limit; 0: do not block), and returns
	// how many events dispatch will handle.
	wait(ms int) (int, error)
	// dispatch handles the n events wait returned.
	dispatch(n int)
	// wake makes a sleeping wait return. Any goroutine, with l.mu held.
	wake() error
	// register starts reading a connection that has its slot and sequence.
	register(c *conn) error
	// flush writes, or queues for writing, c's outbound backlog.
	flush(c *conn)
	// release gives up c's descriptor as c closes. It reports whether
	// requests in flight still read c's outbound chunks: the driver then
	// resets c.out and frees c's slot itself once they complete; otherwise
	// the loop does both at once.
	release(c *conn) bool
	// listen starts accepting on the loop's listener idx, or resumes after
	// a pause.
	listen(lf *listenFd, idx int, resume bool) error
	// unlisten stops accepting on lf and closes its descriptor.
	unlisten(lf *listenFd, idx int)
	// drain completes the driver's requests in flight before the loop
	// exits; every connection has closed.
	drain()
	// close releases the driver's descriptors once the loop is gone (or
	// never ran); called with l.mu held, possibly more than once.
	close()
}

// epollIO is the reactor's driver: level-triggered epoll, an eventfd for
// wake-ups, and the system calls in loop_linux.go. Its state is on loop
// (poller, efd, events, rbuf, iov).
type epollIO struct{ l *loop }

var (
	_ ioDriver = epollIO{}
	_ ioDriver = (*uringIO)(nil)
)

func (epollIO) needsThread() bool { return false }
func (epollIO) start() error      { return nil }
func (epollIO) drain()            {}

func (d epollIO) wait(ms int) (int, error) { return d.l.poller.Wait(d.l.events, ms) }

func (d epollIO) dispatch(n int) {
	for i := 0; i < n; i++ {
		d.l.handle(&d.l.events[i])
	}
}

func (d epollIO) wake() error { return poll.WakeEventfd(d.l.efd) }

func (d epollIO) register(c *conn) error {
	c.events = poll.EventRead
	return d.l.poller.Add(c.fd, poll.EventRead, c.slot, c.seq)
}

func (d epollIO) flush(c *conn) { d.l.writeOut(c) }

func (epollIO) release(c *conn) bool {
	unix.Close(c.fd) // also removes it from the epoll set
	return false
}

func (d epollIO) listen(lf *listenFd, idx int, resume bool) error {
	if resume {
		return d.l.poller.Mod(lf.fd, poll.EventIn, int32(-1-idx), 0)
	}
	return d.l.poller.Add(lf.fd, poll.EventIn, int32(-1-idx), 0)
}

func (epollIO) unlisten(lf *listenFd, _ int) {
	unix.Close(lf.fd) // closing removes it from epoll
}

func (d epollIO) close() {
	l := d.l
	if l.efd >= 0 {
		unix.Close(l.efd)
		l.efd = -1
	}
	if l.poller != nil {
		l.poller.Close()
		l.poller = nil
	}
}
