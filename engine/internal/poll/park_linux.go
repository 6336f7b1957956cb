package poll

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Parker puts a goroutine to sleep on the Go runtime's netpoller until a
// descriptor becomes readable, instead of blocking an OS thread in a system
// call (see NewParkingPoller for why). An epoll descriptor is readable while
// it has events; an eventfd while its counter is not zero; so either can
// stand for "this loop has work".
//
// A Parker is used by one goroutine at a time.
type Parker struct {
	file     *os.File
	rc       syscall.RawConn
	try      func() bool        // the current Park's check
	tryRead  func(uintptr) bool // rc.Read's callback, bound once (no allocation per Park)
	deadline bool               // a read deadline is set on file
}

// NewParker registers fd with the netpoller. fd is made non-blocking (the
// runtime polls only non-blocking descriptors) and from then on belongs to
// the Parker: Close closes it.
func NewParker(fd int, name string) (*Parker, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &Parker{file: os.NewFile(uintptr(fd), name)}
	var err error
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, err
	}
	p.tryRead = func(uintptr) bool { return p.try() }
	// A descriptor the netpoller refused is not pollable, and its deadline
	// methods say so: fail here rather than block forever in Park.
	if err := p.file.SetReadDeadline(time.Time{}); err != nil {
		p.file.Close()
		return nil, fmt.Errorf("%s descriptor is not pollable: %w", name, err)
	}
	return p, nil
}

// Park calls try, and while it returns false parks the goroutine until the
// descriptor is readable (then calls try again) or timeout (if >= 0)
// passes. try must consume what makes the descriptor readable before it
// returns false (drain the eventfd, collect the epoll events): the
// netpoller reports edges, so readiness left standing does not wake the
// goroutine again. A timeout is not an error.
func (p *Parker) Park(try func() bool, timeout time.Duration) error {
	if timeout >= 0 {
		p.file.SetReadDeadline(time.Now().Add(timeout))
		p.deadline = true
	} else if p.deadline {
		p.file.SetReadDeadline(time.Time{})
		p.deadline = false
	}
	p.try = try
	err := p.rc.Read(p.tryRead)
	p.try = nil
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}

// Close closes the descriptor.
func (p *Parker) Close() error { return p.file.Close() }
