// Package loggingbench compares wharf/logging with zap, zerolog and
// log/slog's JSONHandler on the same structured line, written to a file in
// the system temp directory. Results and commands: ../RESULTS.md, section
// "logging".
package loggingbench

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"wharf/logging"
)

// The line: a message and six fields, one of each common kind.
const (
	msg   = "request done"
	user  = "alice"
	conn  = 42
	ratio = 0.25
	tls   = true
	rtt   = 1500 * time.Microsecond
)

var errReset = errors.New("connection reset by peer")

// A target is one logger configuration. setup opens it on path and returns
// the call that logs the line (safe for concurrent use) and the call that
// flushes and closes it and reports how many lines the logger dropped.
type target struct {
	name  string
	setup func(tb testing.TB, path string) (log func(), finish func() (dropped uint64))
}

func wharfTarget(name string, cfg logging.Config) target {
	return target{name, func(tb testing.TB, path string) (func(), func() uint64) {
		cfg := cfg
		cfg.File = path
		l, err := logging.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		lg := l.Logger()
		ctx := context.Background()
		return func() {
				lg.LogAttrs(ctx, slog.LevelInfo, msg, slog.String("user", user), slog.Int("conn", conn),
					slog.Float64("ratio", ratio), slog.Bool("tls", tls), slog.Duration("rtt", rtt), slog.Any("err", errReset))
			}, func() uint64 {
				if err := l.Close(); err != nil {
					tb.Fatal(err)
				}
				return l.Dropped()
			}
	}}
}

func zapTarget(name string, buffered, caller bool) target {
	return target{name, func(tb testing.TB, path string) (func(), func() uint64) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			tb.Fatal(err)
		}
		var ws zapcore.WriteSyncer = zapcore.AddSync(f)
		var bws *zapcore.BufferedWriteSyncer
		if buffered {
			bws = &zapcore.BufferedWriteSyncer{WS: ws, Size: 256 << 10, FlushInterval: time.Second}
			ws = bws
		}
		core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), ws, zapcore.InfoLevel)
		var opts []zap.Option
		if caller {
			opts = append(opts, zap.AddCaller())
		}
		lg := zap.New(core, opts...)
		return func() {
				lg.Info(msg, zap.String("user", user), zap.Int("conn", conn), zap.Float64("ratio", ratio),
					zap.Bool("tls", tls), zap.Duration("rtt", rtt), zap.Error(errReset))
			}, func() uint64 {
				// Sync flushes the buffer. BufferedWriteSyncer.Stop is not called:
				// in zap v1.27.0 it deadlocks when its flush ticker fires as it
				// stops (uber-go/zap#1428, fixed after v1.27.0); its flush
				// goroutine is left to tick on the closed file.
				lg.Sync()
				f.Close()
				return 0
			}
	}}
}

func zerologTarget(name string, caller bool) target {
	return target{name, func(tb testing.TB, path string) (func(), func() uint64) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			tb.Fatal(err)
		}
		c := zerolog.New(f).With().Timestamp()
		if caller {
			c = c.Caller()
		}
		lg := c.Logger()
		return func() {
				lg.Info().Str("user", user).Int("conn", conn).Float64("ratio", ratio).Bool("tls", tls).
					Dur("rtt", rtt).Err(errReset).Msg(msg)
			}, func() uint64 {
				f.Close()
				return 0
			}
	}}
}

func slogTarget(name string, source bool) target {
	return target{name, func(tb testing.TB, path string) (func(), func() uint64) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			tb.Fatal(err)
		}
		lg := slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{AddSource: source}))
		ctx := context.Background()
		return func() {
				lg.LogAttrs(ctx, slog.LevelInfo, msg, slog.String("user", user), slog.Int("conn", conn),
					slog.Float64("ratio", ratio), slog.Bool("tls", tls), slog.Duration("rtt", rtt), slog.Any("err", errReset))
			}, func() uint64 {
				f.Close()
				return 0
			}
	}}
}

var targets = []target{
	wharfTarget("wharf-sync-text", logging.Config{}),
	wharfTarget("wharf-sync-json", logging.Config{Format: logging.FormatJSON}),
	wharfTarget("wharf-async-text", logging.Config{Async: true}),
	wharfTarget("wharf-async-json", logging.Config{Format: logging.FormatJSON, Async: true}),
	zapTarget("zap-sync-json", false, false),
	zapTarget("zap-buffered-json", true, false),
	zerologTarget("zerolog-sync-json", false),
	slogTarget("slog-json", false),
	// The same with the caller's file:line.
	wharfTarget("wharf-sync-json-source", logging.Config{Format: logging.FormatJSON, AddSource: true}),
	wharfTarget("wharf-async-json-source", logging.Config{Format: logging.FormatJSON, Async: true, AddSource: true}),
	zapTarget("zap-sync-json-caller", false, true),
	zapTarget("zap-buffered-json-caller", true, true),
	zerologTarget("zerolog-sync-json-caller", true),
	slogTarget("slog-json-source", true),
}

// BenchmarkLogging logs the line b.N times, from one goroutine ("serial")
// and from GOMAXPROCS goroutines ("parallel"). Besides wall time it reports
// cpu-ns/line, the CPU time of the whole process (all threads: callers,
// writer goroutines, GC) per line, which other processes on a shared
// machine disturb far less than wall time. The timer covers accepting
// the lines; the final flush of the async and buffered loggers is outside
// it, and bounded by their buffers (2 MiB for wharf, 256 KiB for zap). The
// async wharf logger uses the Block policy, so it cannot run ahead of its
// writer by more than its ring.
func BenchmarkLogging(b *testing.B) {
	for _, tg := range targets {
		for _, mode := range []string{"serial", "parallel"} {
			b.Run(tg.name+"/"+mode, func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "bench.log")
				log, finish := tg.setup(b, path)
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				if mode == "serial" {
					for range b.N {
						log()
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							log()
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/line")
				b.StopTimer()
				if d := finish(); d != 0 {
					b.Fatalf("%d lines dropped", d)
				}
				if fi, err := os.Stat(path); err == nil {
					b.ReportMetric(float64(fi.Size())/float64(b.N), "B/line")
				}
				os.Remove(path)
			})
		}
	}
}

// TestLinesIdentical prints one line of each target, so the table can be
// read knowing what each logger wrote, and checks every target wrote
// exactly the lines it was given.
func TestLinesIdentical(t *testing.T) {
	for _, tg := range targets {
		path := filepath.Join(t.TempDir(), "one.log")
		log, finish := tg.setup(t, path)
		for range 3 {
			log()
		}
		finish()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%s wrote %d lines, want 3", tg.name, len(lines))
		}
		t.Logf("%-26s %3d B  %s", tg.name, len(lines[0])+1, lines[0])
	}
}

// TestBurstMemory logs a burst of records as fast as two goroutines can
// into each async logger and reports how far the heap and the RSS grew. The
// wharf logger's memory is bounded by its ring whatever the burst: the test
// fails if its heap grows by more than 32 MiB (a queue holding the whole
// burst would need about 200 MiB).
func TestBurstMemory(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	tests := []struct {
		tg      target
		bounded bool
	}{
		{wharfTarget("wharf-async-json-block", logging.Config{Format: logging.FormatJSON, Async: true}), true},
		{wharfTarget("wharf-async-json-drop", logging.Config{Format: logging.FormatJSON, Async: true, OnFull: logging.Drop}), true},
		{zapTarget("zap-buffered-json", true, false), false},
	}
	t.Logf("%-24s %9s %10s %10s %14s %14s %12s", "logger", "records", "written", "seconds", "peak heap +MiB", "peak RSS +MiB", "alloc MiB")
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "burst.log")
		runtime.GC()
		heap0 := heapBytes()
		rss0 := rssKiB("VmRSS")
		resetPeakRSS(t)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)

		var peak atomic.Uint64
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				if h := heapBytes(); h > peak.Load() {
					peak.Store(h)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()

		log, finish := tt.tg.setup(t, path)
		start := time.Now()
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n/2 + g*(n%2) {
					log()
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		close(stop)
		sampler.Wait()
		runtime.ReadMemStats(&ms1)
		hwm := rssKiB("VmHWM")
		dropped := finish()
		written := countLines(t, path)
		growth := float64(int64(peak.Load())-int64(heap0)) / (1 << 20)
		t.Logf("%-24s %9d %10d %10.2f %14.1f %14.1f %12.1f", tt.tg.name, n, written, elapsed.Seconds(),
			growth, float64(hwm-rss0)/1024, float64(ms1.TotalAlloc-ms0.TotalAlloc)/(1<<20))
		if tt.bounded && growth > 32 {
			t.Errorf("%s: heap grew by %.1f MiB during the burst", tt.tg.name, growth)
		}
		if uint64(written)+dropped != uint64(n) {
			t.Errorf("%s: %d lines written + %d dropped, want %d", tt.tg.name, written, dropped, n)
		}
	}
}

// countLines counts the benchmark's lines in the file at path.
func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), msg) { // not the drop reports
			n++
		}
	}
	return n
}

// heapBytes reads the bytes in heap objects (live and not yet swept)
// without stopping the world.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// rssKiB reads a field of /proc/self/status in KiB.
func rssKiB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM to the current RSS (Linux: clear_refs 5).
func resetPeakRSS(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset peak RSS: %v", err)
	}
}
