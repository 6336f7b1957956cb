package poll

import (
	"syscall"
	"time"
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
// owning loop only, and so are the fields below fd.
type Poller struct {
	fd int

	// Parking (NewParkingPoller): the epoll descriptor is itself registered
	// with the Go runtime's netpoller, and a blocking Wait parks the
	// goroutine until it becomes readable instead of blocking its thread in
	// epoll_wait. parker owns fd then.
	parker *Parker
	try    func() bool // p.tryWait, bound once
	events []Event     // tryWait's arguments and results
	n      int
	err    error
}

// NewPoller creates an epoll instance with close-on-exec set. Its blocking
// Wait is an epoll_wait system call.
func NewPoller() (*Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &Poller{fd: fd}, nil
}

// NewParkingPoller creates an epoll instance whose blocking Wait parks the
// calling goroutine on the Go runtime's netpoller rather than blocking an
// OS thread in epoll_wait (an epoll descriptor is readable while it has
// events ready, so it can be watched like a socket).
//
// Why: a thread blocked in a system call keeps its P, and the runtime's
// sysmon thread, finding it there, takes the P back and wakes up every
// 20µs-10ms to check again. A process whose loops mostly sleep (many idle
// connections, few events) pays for that in context switches: measured on
// a 2-core machine with 100,000 idle connections, sysmon was a third of
// the server's CPU. A parked goroutine costs nothing while it sleeps, and
// an idle process lets the runtime sleep in one epoll_wait of its own.
func NewParkingPoller() (*Poller, error) {
	p, err := NewPoller()
	if err != nil {
		return nil, err
	}
	// epoll_wait itself ignores O_NONBLOCK (its timeout decides).
	if p.parker, err = NewParker(p.fd, "epoll"); err != nil {
		return nil, err
	}
	p.try = p.tryWait
	return p, nil
}

// Fd returns the epoll descriptor.
func (p *Poller) Fd() int { return p.fd }

// Close closes the epoll descriptor.
func (p *Poller) Close() error {
	if p.parker != nil {
		return p.parker.Close()
	}
	return unix.Close(p.fd)
}

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
// schedule other goroutines meanwhile (a parking poller parks the goroutine;
// see NewParkingPoller). EINTR is returned as 0 events, and so is a timeout.
func (p *Poller) Wait(events []Event, msec int) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	if msec == 0 {
		return p.poll(events)
	}
	if p.parker != nil {
		return p.park(events, msec)
	}
	n, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	return result(n, e)
}

// poll is a non-blocking epoll_wait.
func (p *Poller) poll(events []Event) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	return result(n, e)
}

func result(n uintptr, e syscall.Errno) (int, error) {
	if e != 0 {
		if e == unix.EINTR {
			return 0, nil
		}
		return 0, e
	}
	return int(n), nil
}

// park polls, and while nothing is ready parks on the netpoller until the
// epoll descriptor becomes readable or msec (if positive) passes.
func (p *Poller) park(events []Event, msec int) (int, error) {
	timeout := time.Duration(-1)
	if msec > 0 {
		timeout = time.Duration(msec) * time.Millisecond
	}
	p.events, p.n, p.err = events, 0, nil
	err := p.parker.Park(p.try, timeout)
	p.events = nil
	if err != nil {
		return 0, err
	}
	return p.n, p.err
}

// tryWait is park's check: true (done) when events are ready or polling
// failed; false parks until the descriptor is readable.
func (p *Poller) tryWait() bool {
	p.n, p.err = p.poll(p.events)
	return p.n > 0 || p.err != nil
}
