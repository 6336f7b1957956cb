package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// commonAttrs has one attribute of each kind the hot path must encode
// without allocating.
func commonAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("user", "alice"), slog.Int("conn", 42), slog.Int64("bytes", 1<<40),
		slog.Uint64("seq", 7), slog.Float64("ratio", 0.25), slog.Bool("tls", true),
		slog.Duration("rtt", 1500*time.Microsecond), slog.Time("since", fixedTime),
		slog.Any("err", errors.New("connection reset by peer")),
	}
}

// TestZeroAllocs guards the steady-state allocation budget of Handle (and
// of the whole slog call for up to five attributes, which slog.Record keeps
// inline): zero, in every mode.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var pcs [1]uintptr
	runtime.Callers(1, pcs[:])
	for _, async := range []bool{false, true} {
		for _, format := range []string{FormatText, FormatJSON} {
			for _, source := range []bool{false, true} {
				t.Run(fmt.Sprintf("async=%v/%s/source=%v", async, format, source), func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "app.log")
					l := mustNew(t, Config{File: path, Async: async, Format: format, AddSource: source})
					defer l.Close()
					h := l.Handler().WithAttrs([]slog.Attr{slog.String("svc", "gate")})
					r := slog.NewRecord(time.Now(), slog.LevelInfo, "request done", pcs[0])
					r.AddAttrs(commonAttrs()...)
					ctx := context.Background()
					if n := testing.AllocsPerRun(5000, func() { h.Handle(ctx, r) }); n != 0 {
						t.Errorf("Handle: %v allocs per record, want 0", n)
					}
					lg := slog.New(h)
					as := commonAttrs()[:5]
					if n := testing.AllocsPerRun(5000, func() {
						lg.LogAttrs(ctx, slog.LevelInfo, "request done", as...)
					}); n != 0 {
						t.Errorf("slog.Logger.LogAttrs: %v allocs per record, want 0", n)
					}
				})
			}
		}
	}
}
