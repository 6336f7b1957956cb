package logging

import (
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Backups are named like lumberjack's: app.log becomes
// app-2024-05-01T00-00-00.000.log (local time of the rotation), so tools
// that know lumberjack's names know these.
const backupTimeFormat = "2006-01-02T15-04-05.000"

// uniqueBackupName returns the backup name for path rotated at t, moving t
// forward a millisecond at a time if a file by that name exists (two
// rotations in one millisecond must not overwrite each other).
func uniqueBackupName(path string, t time.Time) string {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	prefix := base[:len(base)-len(ext)]
	for range 1000 {
		name := filepath.Join(dir, prefix+"-"+t.Format(backupTimeFormat)+ext)
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		t = t.Add(time.Millisecond)
	}
	return filepath.Join(dir, prefix+"-"+t.Format(backupTimeFormat)+ext)
}

// mill removes backups beyond MaxBackups or older than MaxAgeDays and
// compresses the rest, in its own goroutine so a rotation never waits for
// gzip. It starts in openOutput and stops in output.close.
type mill struct {
	dir, prefix, ext string
	maxBackups       int
	maxAge           time.Duration
	compress         bool
	clock            func() time.Time

	kickc chan struct{} // capacity 1: work is wanted
	stop  chan struct{} // closed by close
	done  chan struct{} // closed when run returns
}

func newMill(cfg Config) *mill {
	dir, base := filepath.Split(cfg.File)
	ext := filepath.Ext(base)
	return &mill{
		dir:        filepath.Clean(dir),
		prefix:     base[:len(base)-len(ext)] + "-",
		ext:        ext,
		maxBackups: cfg.MaxBackups,
		maxAge:     time.Duration(cfg.MaxAgeDays) * 24 * time.Hour,
		compress:   cfg.Compress,
		clock:      cfg.Clock,
		kickc:      make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
}

func (m *mill) kick() {
	select {
	case m.kickc <- struct{}{}:
	default:
	}
}

func (m *mill) run() {
	defer close(m.done)
	for {
		select {
		case <-m.kickc:
			m.once()
		case <-m.stop:
			select { // work asked for before close is done, so Close leaves a tidy directory
			case <-m.kickc:
				m.once()
			default:
			}
			return
		}
	}
}

func (m *mill) close() {
	close(m.stop)
	<-m.done
}

type backup struct {
	name string // file name in m.dir
	t    time.Time
	gz   bool
}

// backups lists this log's backups, newest first.
func (m *mill) backups() []backup {
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		return nil
	}
	var out []backup
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, m.prefix) {
			continue
		}
		rest := name[len(m.prefix):]
		gz := strings.HasSuffix(rest, m.ext+".gz")
		if gz {
			rest = strings.TrimSuffix(rest, ".gz")
		}
		if !strings.HasSuffix(rest, m.ext) {
			continue
		}
		t, err := time.ParseInLocation(backupTimeFormat, strings.TrimSuffix(rest, m.ext), time.Local)
		if err != nil {
			continue
		}
		out = append(out, backup{name: name, t: t, gz: gz})
	}
	slices.SortFunc(out, func(a, b backup) int { return b.t.Compare(a.t) })
	return out
}

// once applies the limits and compression. Errors are ignored: the next
// rotation tries again, and a log library has nowhere better to report them.
func (m *mill) once() {
	bs := m.backups()
	seen := map[time.Time]bool{} // a backup and its .gz count once
	var cutoff time.Time
	if m.maxAge > 0 {
		cutoff = m.clock().Add(-m.maxAge)
	}
	var keep []backup
	for _, b := range bs {
		seen[b.t] = true
		if (m.maxBackups > 0 && len(seen) > m.maxBackups) || (m.maxAge > 0 && b.t.Before(cutoff)) {
			os.Remove(filepath.Join(m.dir, b.name))
			continue
		}
		keep = append(keep, b)
	}
	if !m.compress {
		return
	}
	for _, b := range keep {
		if !b.gz {
			gzipFile(filepath.Join(m.dir, b.name))
		}
	}
}

// gzipFile replaces name by name.gz.
func gzipFile(name string) error {
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(name+".gz", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, logFileMode)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(dst)
	_, err = io.Copy(zw, src)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name + ".gz")
		return err
	}
	return os.Remove(name)
}
