package logging

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// SpoolSupported reports whether this platform has spool files
// (Config.SpoolFile): Linux only.
const SpoolSupported = true

// lockFile takes an exclusive, non-blocking flock on f. The kernel releases
// it when the process exits, however it exits, so a stale lock never blocks
// the recovery that is the point of the spool.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrSpoolBusy
	}
	return err
}

// reserveFile makes f size bytes long with its blocks allocated.
func reserveFile(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return f.Truncate(size) // e.g. some network file systems: sparse it is
	}
	return err
}

// mapFile maps size bytes of f shared and writable.
func mapFile(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func unmapFile(b []byte) error { return unix.Munmap(b) }

// fileID returns the device and inode of a file.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}
