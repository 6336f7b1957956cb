package logging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentEveryLine logs from many goroutines and finds every record
// exactly once, whole, in every mode.
func TestConcurrentEveryLine(t *testing.T) {
	goroutines, perG := 16, 2000
	if testing.Short() {
		perG = 300
	}
	tests := []struct {
		name string
		cfg  Config
		file bool
	}{
		{name: "sync text writer", cfg: Config{}},
		{name: "sync json file", cfg: Config{Format: FormatJSON}, file: true},
		{name: "async text file small ring", cfg: Config{Async: true, Buffers: 2, BufferSize: 4096}, file: true},
		{name: "async json writer", cfg: Config{Async: true, Format: FormatJSON, Buffers: 4, BufferSize: 8192}},
		{name: "async file 1ms flush ticks", cfg: Config{Async: true, FlushInterval: time.Millisecond}, file: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			var buf syncBuffer
			path := filepath.Join(t.TempDir(), "app.log")
			if tt.file {
				cfg.File = path
			} else {
				cfg.Writer = &buf
			}
			cfg.AddSource = true
			l := mustNew(t, cfg)
			lg := l.Logger().With("svc", "test")
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perG {
						lg.LogAttrs(context.Background(), slog.LevelInfo, "hello world",
							slog.Int("g", g), slog.Int("i", i), slog.String("pad", strings.Repeat("x", i%50)))
					}
				}()
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			var got []string
			if tt.file {
				got = fileLines(t, path)
			} else {
				got = lines(t, buf.String())
			}
			seen := make(map[[2]int]int)
			for _, line := range got {
				g, i := parseGI(t, line, cfg.Format == FormatJSON)
				if want := strings.Repeat("x", i%50); !strings.Contains(line, want) {
					t.Fatalf("line garbled: %q", line)
				}
				seen[[2]int{g, i}]++
			}
			for g := range goroutines {
				for i := range perG {
					if n := seen[[2]int{g, i}]; n != 1 {
						t.Fatalf("record g=%d i=%d found %d times", g, i, n)
					}
				}
			}
			if len(got) != goroutines*perG {
				t.Fatalf("%d lines, want %d", len(got), goroutines*perG)
			}
		})
	}
}

var giText = regexp.MustCompile(`\]-hello world svc=test g=(\d+) i=(\d+) pad=(?:x+|"")$`)

func parseGI(t *testing.T, line string, isJSON bool) (g, i int) {
	t.Helper()
	if isJSON {
		var m struct {
			Msg, Svc, Pad string
			G, I          int
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.Msg != "hello world" || m.Svc != "test" {
			t.Fatalf("bad line %q: %v", line, err)
		}
		return m.G, m.I
	}
	mm := giText.FindStringSubmatch(line)
	if mm == nil {
		t.Fatalf("bad line %q", line)
	}
	g, _ = strconv.Atoi(mm[1])
	i, _ = strconv.Atoi(mm[2])
	return g, i
}

// gateWriter blocks every Write until open is closed.
type gateWriter struct {
	open chan struct{}
	syncBuffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	<-w.open
	return w.syncBuffer.Write(p)
}

// TestDropCountsExactly fills the ring while the writer is stuck and checks
// that every record is either written or counted as dropped, and that the
// count is logged.
func TestDropCountsExactly(t *testing.T) {
	const n = 2000
	w := &gateWriter{open: make(chan struct{})}
	l := mustNew(t, Config{Writer: w, Async: true, Buffers: 2, BufferSize: 4096, OnFull: Drop, FlushInterval: time.Hour})
	lg := l.Logger()
	for i := range n {
		lg.Info("rec", "i", i)
	}
	dropped := l.Dropped()
	if dropped == 0 || dropped >= n {
		t.Fatalf("Dropped() = %d with the writer stuck; want some, not all, of %d", dropped, n)
	}
	close(w.open)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != dropped {
		t.Fatalf("Dropped() changed after the burst: %d -> %d", dropped, l.Dropped())
	}
	var recs, reported int
	last := -1
	for _, line := range lines(t, w.String()) {
		if strings.Contains(line, "]-rec i=") {
			recs++
			i, _ := strconv.Atoi(line[strings.LastIndexByte(line, '=')+1:])
			if i <= last {
				t.Fatalf("records out of order: %d after %d", i, last)
			}
			last = i
			continue
		}
		if m := regexp.MustCompile(`records dropped dropped=(\d+) dropped_total=(\d+)`).FindStringSubmatch(line); m != nil {
			reported, _ = strconv.Atoi(m[2])
			continue
		}
		t.Fatalf("unexpected line %q", line)
	}
	if uint64(recs)+dropped != n {
		t.Fatalf("%d written + %d dropped != %d logged", recs, dropped, n)
	}
	if uint64(reported) != dropped {
		t.Fatalf("logged drop total %d, Dropped() = %d", reported, dropped)
	}
	// The accepted records are the ones that fit two buffers, the first ones.
	if last != recs-1 {
		t.Fatalf("kept records are not the first %d (last is %d)", recs, last)
	}
}

// failWriter fails while fail is set.
type failWriter struct {
	mu   sync.Mutex
	fail bool
	syncBuffer
}

func (w *failWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	fail := w.fail
	w.mu.Unlock()
	if fail {
		return 0, errors.New("disk on fire")
	}
	return w.syncBuffer.Write(p)
}

func (w *failWriter) set(fail bool) {
	w.mu.Lock()
	w.fail = fail
	w.mu.Unlock()
}

// TestAsyncWriteErrorKeepsRecords: a failed write is reported by Flush and
// the records are kept and written once the output works again.
func TestAsyncWriteErrorKeepsRecords(t *testing.T) {
	w := &failWriter{fail: true}
	l := mustNew(t, Config{Writer: w, Async: true, FlushInterval: 5 * time.Millisecond})
	for i := range 10 {
		l.Logger().Info("rec", "i", i)
	}
	if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Flush() = %v, want the write error", err)
	}
	w.set(false)
	if err := l.Flush(); err != nil {
		t.Fatalf("Flush() after recovery = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(lines(t, w.String())); got != 10 {
		t.Fatalf("%d lines written, want 10", got)
	}
}

func TestLongRecords(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		truncated bool
	}{
		{name: "fits one slot", size: 1000},
		{name: "spans three slots", size: 10000},
		{name: "longer than the ring", size: 20000, truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			l := mustNew(t, Config{File: path, Async: true, Buffers: 4, BufferSize: 4096, MaxSizeMB: 1})
			l.Logger().Info("before")
			l.Logger().Info("big", "v", strings.Repeat("y", tt.size))
			l.Logger().Info("after")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got := fileLines(t, path)
			if len(got) != 3 || !strings.HasSuffix(got[0], "before") || !strings.HasSuffix(got[2], "after") {
				t.Fatalf("got %d lines: %.200q", len(got), got)
			}
			if tt.truncated {
				if !strings.HasSuffix(got[1], truncMark[:len(truncMark)-1]) || len(got[1])+1 != 4*4096 {
					t.Fatalf("long line not cut to the ring: %d bytes, ends %q", len(got[1]), got[1][len(got[1])-20:])
				}
			} else if !strings.HasSuffix(got[1], "v="+strings.Repeat("y", tt.size)) {
				t.Fatalf("long line damaged")
			}
		})
	}
}

func TestClosed(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprint("async=", async), func(t *testing.T) {
			var buf syncBuffer
			l := mustNew(t, Config{Writer: &buf, Async: async})
			l.Logger().Info("one")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "late line, expected on stderr", 0)
			if err := l.Handler().Handle(context.Background(), r); !errors.Is(err, ErrClosed) {
				t.Fatalf("Handle after Close = %v, want ErrClosed", err)
			}
			if async {
				if err := l.Flush(); !errors.Is(err, ErrClosed) {
					t.Fatalf("Flush after Close = %v", err)
				}
			}
			if err := l.Reopen(); !errors.Is(err, ErrClosed) {
				t.Fatalf("Reopen after Close = %v", err)
			}
			if got := lines(t, buf.String()); len(got) != 1 {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestSetLevel(t *testing.T) {
	var buf syncBuffer
	lv := new(slog.LevelVar)
	l := mustNew(t, Config{Writer: &buf, Level: lv})
	defer l.Close()
	lg := l.Logger()
	lg.Debug("hidden")
	l.SetLevel(slog.LevelDebug)
	lg.Debug("shown")
	lv.Set(slog.LevelError)
	lg.Warn("hidden too")
	if l.Level() != slog.LevelError {
		t.Fatalf("Level() = %v", l.Level())
	}
	if got := lines(t, buf.String()); len(got) != 1 || !strings.HasSuffix(got[0], "shown") {
		t.Fatalf("got %q", got)
	}
}

// TestFlushWritesPartialBuffer: a record in a partly filled buffer is
// written by Flush and, without Flush, within FlushInterval.
func TestFlushWritesPartialBuffer(t *testing.T) {
	var buf syncBuffer
	l := mustNew(t, Config{Writer: &buf, Async: true, FlushInterval: 10 * time.Millisecond})
	defer l.Close()
	l.Logger().Info("one")
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, buf.String()); len(got) != 1 {
		t.Fatalf("after Flush: %q", got)
	}
	l.Logger().Info("two")
	deadline := time.Now().Add(10 * time.Second)
	for len(lines(t, buf.String())) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("record not written by the flush ticker")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
