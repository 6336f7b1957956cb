package uring

import (
	"errors"
	"syscall"
)

// ErrUnsupported matches (errors.Is) setup errors that mean io_uring cannot
// be used here at all: a kernel without it (ENOSYS), disabled by
// kernel.io_uring_disabled or forbidden by a seccomp profile or container
// runtime (EPERM, EACCES), or too old for any flag set we can use
// (EINVAL).
var ErrUnsupported = errors.New("uring: io_uring is not available")

// SetupError is a failure to create a ring or map its memory.
type SetupError struct {
	Op  string // "io_uring_setup", "mmap rings", ...
	Err error
}

func (e *SetupError) Error() string { return "uring: " + e.Op + ": " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnsupported) true for the errnos that mean
// io_uring is unavailable rather than short of resources.
func (e *SetupError) Is(target error) bool {
	if target != ErrUnsupported || e.Op != "io_uring_setup" {
		return false
	}
	switch e.Err {
	case syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.EINVAL:
		return true
	}
	return false
}

// EnterError is a failed io_uring_enter.
type EnterError struct{ Err syscall.Errno }

func (e *EnterError) Error() string { return "uring: io_uring_enter: " + e.Err.Error() }
func (e *EnterError) Unwrap() error { return e.Err }

// RegisterError is a failed io_uring_register.
type RegisterError struct {
	Op  string // "IORING_REGISTER_PBUF_RING", ...
	Err syscall.Errno
}

func (e *RegisterError) Error() string { return "uring: " + e.Op + ": " + e.Err.Error() }
func (e *RegisterError) Unwrap() error { return e.Err }
