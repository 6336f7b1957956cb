package logging

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable Config.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// logFiles lists the names in dir except spools, sorted.
func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".spool") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

func TestSizeRotation(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprint("async=", async), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			l := mustNew(t, Config{File: path, MaxSizeMB: 1, Async: async, BufferSize: 64 << 10})
			const n = 25000 // about 2.5 MiB
			for i := range n {
				l.Logger().Info("rotate me", "i", i, "pad", strings.Repeat("z", 40))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			names := logFiles(t, dir)
			if len(names) < 3 {
				t.Fatalf("files %v, want the log and at least two backups", names)
			}
			for _, name := range names {
				fi, _ := os.Stat(filepath.Join(dir, name))
				if fi.Size() > 1<<20 {
					t.Errorf("%s is %d bytes, over MaxSizeMB", name, fi.Size())
				}
			}
			// Every record once, whole, in order across backups (oldest
			// first by name) and then the live file.
			all := dirLines(t, dir, "app-")
			all = append(all, fileLines(t, path)...)
			if len(all) != n {
				t.Fatalf("%d lines in all files, want %d", len(all), n)
			}
			for i, line := range all {
				if !strings.Contains(line, fmt.Sprintf(" i=%d pad=", i)) {
					t.Fatalf("line %d is %q", i, line)
				}
			}
		})
	}
}

func TestDailyRotation(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprint("async=", async), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			clock := &fakeClock{t: time.Date(2024, 5, 1, 23, 59, 0, 0, time.Local)}
			l := mustNew(t, Config{File: path, Daily: true, Clock: clock.now, Async: async})
			day := func(name string, n int) {
				for i := range n {
					l.Logger().Info(name, "i", i)
				}
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			day("may1", 10)
			clock.set(time.Date(2024, 5, 2, 0, 0, 1, 0, time.Local))
			day("may2", 7)
			clock.set(time.Date(2024, 5, 2, 18, 0, 0, 0, time.Local))
			day("may2", 3) // same day: no rotation
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			names := logFiles(t, dir)
			want := []string{"app-2024-05-02T00-00-01.000.log", "app.log"}
			if !slices.Equal(names, want) {
				t.Fatalf("files %v, want %v", names, want)
			}
			old := fileLines(t, filepath.Join(dir, want[0]))
			cur := fileLines(t, path)
			if len(old) != 10 || !strings.Contains(old[9], "]-may1 ") || len(cur) != 10 || !strings.Contains(cur[0], "]-may2 ") {
				t.Fatalf("backup %d lines, current %d lines:\n%q\n%q", len(old), len(cur), old, cur)
			}
		})
	}
}

func TestBackupsLimitAndCompress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	clock := &fakeClock{t: time.Date(2024, 1, 1, 12, 0, 0, 0, time.Local)}
	// A backup from long ago, to be removed by MaxAgeDays.
	ancient := filepath.Join(dir, "app-2020-01-01T00-00-00.000.log")
	os.WriteFile(ancient, []byte("ancient\n"), 0o644)
	l := mustNew(t, Config{File: path, Daily: true, Clock: clock.now, MaxBackups: 2, MaxAgeDays: 30, Compress: true})
	for d := range 5 {
		clock.set(time.Date(2024, 1, 1+d, 12, 0, 0, 0, time.Local))
		l.Logger().Info("day", "d", d)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names := logFiles(t, dir)
	want := []string{"app-2024-01-04T12-00-00.000.log.gz", "app-2024-01-05T12-00-00.000.log.gz", "app.log"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	f, err := os.Open(filepath.Join(dir, want[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil || !strings.HasSuffix(string(b), "]-day d=3\n") {
		t.Fatalf("compressed backup holds %q, %v", b, err)
	}
}

// TestLogFileModes: log files and their compressed backups are created
// 0640 (owner and group), never readable by everyone.
func TestLogFileModes(t *testing.T) {
	defer syscallUmask(0)()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	clock := &fakeClock{t: time.Date(2024, 1, 1, 12, 0, 0, 0, time.Local)}
	l := mustNew(t, Config{File: path, Daily: true, Clock: clock.now, Compress: true})
	l.Logger().Info("one")
	clock.set(time.Date(2024, 1, 2, 12, 0, 0, 0, time.Local))
	l.Logger().Info("two")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range logFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s is %v, want -rw-r-----", name, fi.Mode().Perm())
		}
	}
}

func TestReopen(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprint("async=", async), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			l := mustNew(t, Config{File: path, Async: async})
			l.Logger().Info("before")
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			// What logrotate does: move the file away, then signal.
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			l.Logger().Info("moved") // still goes to the open, renamed file
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := l.Reopen(); err != nil {
				t.Fatal(err)
			}
			l.Logger().Info("after")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			old := fileLines(t, path+".1")
			cur := fileLines(t, path)
			if len(old) != 2 || !strings.HasSuffix(old[1], "]-moved") || len(cur) != 1 || !strings.HasSuffix(cur[0], "]-after") {
				t.Fatalf("old file %q, new file %q", old, cur)
			}
		})
	}
}

func TestReopenWriterIsNoop(t *testing.T) {
	var buf syncBuffer
	l := mustNew(t, Config{Writer: &buf})
	defer l.Close()
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
}

func TestUniqueBackupName(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.Local)
	first := uniqueBackupName(filepath.Join(dir, "a.log"), at)
	os.WriteFile(first, nil, 0o644)
	second := uniqueBackupName(filepath.Join(dir, "a.log"), at)
	if first == second || filepath.Base(second) != "a-2024-05-01T00-00-00.001.log" {
		t.Fatalf("names %q then %q", first, second)
	}
}
