package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// output is where lines end up: a file (with rotation and reopen) or an
// io.Writer (os.Stderr or Config.Writer). Its lock is held for each write,
// so lines from concurrent writers never interleave and rotation or reopen
// never happens in the middle of a write.
type output struct {
	w     io.Writer // the writer output; nil for a file
	path  string    // the file output's path; "" for a writer
	clock func() time.Time
	max   int64 // rotate before a write would pass this size; 0: never
	daily bool
	mill  *mill // cleans and compresses backups; nil if not configured

	mu       sync.Mutex // guards the fields below
	f        *os.File   // the open file; nil after a failed open (retried on the next write)
	size     int64      // bytes in f, as far as this process knows
	day      int        // yyyymmdd (local) of the day f started, for Daily
	dev, ino uint64     // identity of f, for spool recovery
	closed   bool
	rotErr   error // the last rotation failure, printed once to stderr
}

// logFileMode is the mode of new log files: the owner writes, the group
// (adm, by convention) reads, others get nothing: logs hold addresses,
// user names and errors that are nobody else's business.
const logFileMode = 0o640

func openOutput(cfg Config) (*output, error) {
	o := &output{clock: cfg.Clock}
	switch {
	case cfg.Writer != nil:
		o.w = cfg.Writer
		return o, nil
	case cfg.File == "":
		o.w = os.Stderr
		return o, nil
	}
	o.path = cfg.File
	o.max = int64(cfg.MaxSizeMB) << 20
	o.daily = cfg.Daily
	if err := o.openLocked(); err != nil {
		return nil, err
	}
	if cfg.MaxBackups > 0 || cfg.MaxAgeDays > 0 || cfg.Compress {
		o.mill = newMill(cfg)
		go o.mill.run()
		o.mill.kick() // finish what a previous process may have left
	}
	return o, nil
}

// rotateIfDueShared rotates the file when it is due by its real size (as
// stat reports it: other processes may append to it too) or by the day.
// It reports whether it rotated.
func (o *output) rotateIfDueShared() (bool, error) {
	if o.path == "" {
		return false, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.f == nil {
		return false, nil
	}
	fi, err := o.f.Stat()
	if err != nil {
		return false, err
	}
	due := o.max > 0 && fi.Size() >= o.max
	if o.daily && dayOf(o.clock()) != o.day && fi.Size() > 0 {
		due = true
	}
	if !due {
		return false, nil
	}
	if err := o.rotateLocked(); err != nil {
		return false, err
	}
	o.size = 0
	return true, nil
}

// openLocked opens o.path for appending, creating it and its directory.
// o.mu must be held (or o not yet shared).
func (o *output) openLocked() error {
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, logFileMode)
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logging: %w", err)
	}
	o.f, o.size = f, fi.Size()
	o.dev, o.ino = fileID(fi)
	if o.size > 0 {
		o.day = dayOf(fi.ModTime())
	} else {
		o.day = dayOf(o.clock())
	}
	return nil
}

// write writes p whole; p starts at a record boundary.
func (o *output) write(p []byte) error {
	_, err := o.writeMarked(p, true, nil)
	return err
}

// writeMarked writes p. If boundary is set, p starts at a record boundary
// and the file may rotate first. mark, if not nil, is told where p is about
// to be written before the write starts. It returns the bytes written.
func (o *output) writeMarked(p []byte, boundary bool, mark func(dev, ino uint64, off int64)) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, ErrClosed
	}
	if o.w != nil {
		if mark != nil {
			mark(0, 0, 0)
		}
		return o.w.Write(p)
	}
	if o.f == nil {
		if err := o.openLocked(); err != nil {
			return 0, err
		}
	}
	if boundary {
		o.rotateIfDueLocked(len(p))
	}
	if mark != nil {
		mark(o.dev, o.ino, o.size)
	}
	n, err := o.f.Write(p)
	o.size += int64(n)
	return n, err
}

// rotateIfDueLocked rotates before a write of n bytes if the day changed or
// the size limit would be passed. A file holding nothing is never rotated,
// so a line longer than the limit still gets written. A failed rotation is
// reported on stderr once and the current file kept. o.mu must be held.
func (o *output) rotateIfDueLocked(n int) {
	due := o.max > 0 && o.size > 0 && o.size+int64(n) > o.max
	if o.daily {
		if d := dayOf(o.clock()); d != o.day {
			if o.size == 0 {
				o.day = d
			} else {
				due = true
			}
		}
	}
	if !due {
		return
	}
	if err := o.rotateLocked(); err != nil {
		if o.rotErr == nil || o.rotErr.Error() != err.Error() {
			fmt.Fprintf(os.Stderr, "logging: rotating %s: %v\n", o.path, err)
		}
		o.rotErr = err
		return
	}
	o.rotErr = nil
}

// rotateLocked moves the file to a backup name and starts a new one.
// o.mu must be held.
func (o *output) rotateLocked() error {
	now := o.clock()
	if err := o.f.Close(); err != nil {
		o.f = nil
		return err
	}
	o.f = nil
	renameErr := os.Rename(o.path, uniqueBackupName(o.path, now))
	if err := o.openLocked(); err != nil {
		return err
	}
	if renameErr != nil {
		return renameErr
	}
	o.day = dayOf(now)
	if o.mill != nil {
		o.mill.kick()
	}
	return nil
}

// reopen closes and reopens the file at the configured path: after an
// external tool renamed it away, new lines go to a new file there.
func (o *output) reopen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if o.w != nil {
		return nil
	}
	var errs []error
	if o.f != nil {
		errs = append(errs, o.f.Close())
		o.f = nil
	}
	errs = append(errs, o.openLocked())
	return errors.Join(errs...)
}

// sync commits the file to stable storage (fsync). Writers are not synced.
func (o *output) sync() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.f == nil {
		return nil
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	return nil
}

// close closes the file and stops the backup mill. Later writes return
// ErrClosed.
func (o *output) close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	var err error
	if o.f != nil {
		err = o.f.Close()
		o.f = nil
	}
	o.mu.Unlock()
	if o.mill != nil {
		o.mill.close()
	}
	return err
}

// holds reports whether the file identified by dev and ino is the current
// file and holds data at offset off. Spool recovery uses it to avoid writing
// twice what a dead process had already written.
func (o *output) holds(dev, ino uint64, off int64, data []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil || o.w != nil || ino == 0 || dev != o.dev || ino != o.ino || off+int64(len(data)) > o.size {
		return false
	}
	f, err := os.Open(o.path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return false
	} else if d, i := fileID(fi); d != dev || i != ino {
		return false
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, off); err != nil {
		return false
	}
	return bytes.Equal(got, data)
}

// dayOf returns t's local date as yyyymmdd.
func dayOf(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}
