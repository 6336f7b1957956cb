package poll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxIovecs bounds one readv/writev call (IOV_MAX is 1024 on Linux).
const MaxIovecs = 1024

// Read reads from a non-blocking fd.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Write writes to a non-blocking fd.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// IovecBuf is a reusable iovec array for Readv and Writev, owned by one
// goroutine (an event loop keeps one).
type IovecBuf struct {
	iov []unix.Iovec
}

func (b *IovecBuf) fill(bufs [][]byte) []unix.Iovec {
	iov := b.iov[:0]
	for _, p := range bufs {
		if len(p) == 0 {
			continue
		}
		if len(iov) == MaxIovecs {
			break
		}
		v := unix.Iovec{Base: &p[0]}
		v.SetLen(len(p))
		iov = append(iov, v)
	}
	b.iov = iov
	return iov
}

// release drops the references the iovecs hold to caller memory, so a
// loop's scratch array does not keep chunks alive after the call.
func (b *IovecBuf) release(n int) {
	clear(b.iov[:n])
}

// Readv scatters a read over bufs.
func (b *IovecBuf) Readv(fd int, bufs [][]byte) (int, error) {
	iov := b.fill(bufs)
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	b.release(len(iov))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Writev gathers bufs into one write.
func (b *IovecBuf) Writev(fd int, bufs [][]byte) (int, error) {
	iov := b.fill(bufs)
	switch len(iov) {
	case 0:
		return 0, nil
	case 1:
		b.release(1)
		for _, p := range bufs {
			if len(p) > 0 {
				return Write(fd, p)
			}
		}
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	b.release(len(iov))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
