package poll

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event bits, re-exported so the engine reads like the man page.
const (
	EventRead    = unix.EPOLLIN | unix.EPOLLRDHUP
	EventWrite   = unix.EPOLLOUT
	EventErr     = unix.EPOLLERR | unix.EPOLLHUP
	EventRDHup   = unix.EPOLLRDHUP
	EventIn      = unix.EPOLLIN
	EventOut     = unix.EPOLLOUT
	EventHup     = unix.EPOLLHUP
	EventErrOnly = unix.EPOLLERR
	// EventExclusive wakes only one of several epoll instances that wait on
	// the same descriptor (a shared listening socket).
	EventExclusive = unix.EPOLLEXCLUSIVE
)

// Event is one epoll event. Data carries 64 bits chosen by the caller: the
// engine puts a slot index in the low half and the slot's sequence number in
// the high half, which is how stale events are recognised.
type Event = unix.EpollEvent

// Pack builds the 64-bit event data from a slot and a sequence number.
func Pack(ev *Event, slot int32, seq uint32) {
	ev.Fd = slot
	ev.Pad = int32(seq)
}

// Unpack returns the slot and sequence number stored by Pack.
func Unpack(ev *Event) (slot int32, seq uint32) {
	return ev.Fd, uint32(ev.Pad)
}

// Poller is one epoll instance. It is safe to call Ctl methods from any
// goroutine (epoll_ctl is thread-safe in the kernel); Wait is called by the
// owning loop only.
type Poller struct {
	fd int
}

// NewPoller creates an epoll instance with close-on-exec set.
func NewPoller() (*Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &Poller{fd: fd}, nil
}

// Fd returns the epoll descriptor.
func (p *Poller) Fd() int { return p.fd }

// Close closes the epoll descriptor.
func (p *Poller) Close() error { return unix.Close(p.fd) }

func (p *Poller) ctl(op, fd int, events uint32, slot int32, seq uint32) error {
	ev := Event{Events: events, Fd: slot, Pad: int32(seq)}
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(p.fd), uintptr(op), uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Add registers fd for events with the given slot and sequence as data.
func (p *Poller) Add(fd int, events uint32, slot int32, seq uint32) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, events, slot, seq)
}

// Mod changes the events of a registered fd.
func (p *Poller) Mod(fd int, events uint32, slot int32, seq uint32) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, events, slot, seq)
}

// Del removes fd from the interest list.
func (p *Poller) Del(fd int) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(p.fd), unix.EPOLL_CTL_DEL, uintptr(fd), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Wait fills events and returns how many are ready. msec < 0 blocks, 0 polls.
// A zero timeout is a raw system call; a blocking one lets the runtime
// schedule other goroutines meanwhile. EINTR is returned as 0 events.
func (p *Poller) Wait(events []Event, msec int) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	var (
		n uintptr
		e syscall.Errno
	)
	if msec == 0 {
		n, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), uintptr(unsafe.Pointer(&events[0])),
			uintptr(len(events)), 0, 0, 0)
	} else {
		n, _, e = unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), uintptr(unsafe.Pointer(&events[0])),
			uintptr(len(events)), uintptr(msec), 0, 0)
	}
	if e != 0 {
		if e == unix.EINTR {
			return 0, nil
		}
		return 0, e
	}
	return int(n), nil
}
