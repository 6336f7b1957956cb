package logging

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkHandle measures Handle alone (the record is built once) to a
// file, in each mode. The cross-library comparison lives in the bench
// module (bench/logging).
func BenchmarkHandle(b *testing.B) {
	for _, async := range []bool{false, true} {
		for _, format := range []string{FormatText, FormatJSON} {
			for _, source := range []bool{false, true} {
				b.Run(fmt.Sprintf("async=%v/%s/source=%v", async, format, source), func(b *testing.B) {
					path := filepath.Join(b.TempDir(), "app.log")
					l, err := New(Config{File: path, Async: async, Format: format, AddSource: source})
					if err != nil {
						b.Fatal(err)
					}
					defer l.Close()
					var pcs [1]uintptr
					r := slog.NewRecord(fixedTime, slog.LevelInfo, "request done", pcs[0])
					r.AddAttrs(commonAttrs()...)
					line := l.root.appendRecord(nil, &r)
					b.SetBytes(int64(len(line)))
					b.ReportAllocs()
					ctx := context.Background()
					h := l.Handler()
					b.ResetTimer()
					for b.Loop() {
						h.Handle(ctx, r)
					}
					b.StopTimer()
					l.Flush()
					os.Remove(path)
				})
			}
		}
	}
}

// BenchmarkLogAttrsParallel measures the full slog call from all Ps.
func BenchmarkLogAttrsParallel(b *testing.B) {
	for _, async := range []bool{false, true} {
		b.Run(fmt.Sprintf("async=%v", async), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "app.log")
			l, err := New(Config{File: path, Async: async, Format: FormatJSON})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			lg := l.Logger()
			as := commonAttrs()[:5]
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					lg.LogAttrs(context.Background(), slog.LevelInfo, "request done", as...)
				}
			})
		})
	}
}
