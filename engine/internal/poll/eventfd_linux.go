package poll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// NewEventfd returns a non-blocking, close-on-exec eventfd used to wake a loop.
func NewEventfd() (int, error) {
	return unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
}

var one = [8]byte{1}

// WakeEventfd adds one to the eventfd counter. EAGAIN (counter saturated) is
// not an error: the loop is awake anyway.
func WakeEventfd(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&one[0])), 8)
	if e != 0 && e != unix.EAGAIN {
		return e
	}
	return nil
}

// DrainEventfd resets the eventfd counter to zero.
func DrainEventfd(fd int) {
	var buf [8]byte
	unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), 8)
}
