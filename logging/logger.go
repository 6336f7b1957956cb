package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Logger owns an output (a file or a writer), the async ring and its spool
// if any, and the slog.Handler that feeds them. All methods are safe for
// concurrent use.
type Logger struct {
	cfg   Config
	level *slog.LevelVar
	out   *output
	ring  *ring  // nil in sync mode
	spool *spool // nil without a spool file
	root  *handler
	slog  *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// New builds a Logger. Before it returns, it writes to the output whatever
// records a previous process left in the spool (see Config.SpoolFile) and
// then logs, through the new Logger, how many bytes and records it
// recovered. It starts the writer goroutine in async mode; Close stops it.
func New(cfg Config) (*Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l := &Logger{cfg: cfg}
	if lv, ok := cfg.Level.(*slog.LevelVar); ok {
		l.level = lv
	} else {
		l.level = new(slog.LevelVar)
		l.level.Set(cfg.Level.Level())
	}
	out, err := openOutput(cfg)
	if err != nil {
		return nil, err
	}
	l.out = out
	var rec recovery
	if cfg.SpoolFile != "" {
		l.spool, rec, err = openSpool(cfg.SpoolFile, cfg.Async, cfg.Buffers, cfg.BufferSize, out)
		if err != nil {
			out.close()
			return nil, err
		}
	}
	if cfg.Async {
		var mem []byte
		if l.spool != nil {
			mem = l.spool.mem
		} else {
			mem = make([]byte, spoolSize(cfg.Buffers, cfg.BufferSize))
		}
		l.ring = newRing(mem, cfg.Buffers, cfg.BufferSize, cfg, out)
		l.ring.report = l.reportDrops
		go l.ring.run()
	}
	l.root = &handler{l: l, json: cfg.Format == FormatJSON, addSource: cfg.AddSource}
	l.slog = slog.New(l.root)
	ctx := context.Background()
	if rec.corrupt != "" {
		l.slog.LogAttrs(ctx, slog.LevelWarn, "logging: spool file was not a spool; moved aside",
			slog.String("spool", cfg.SpoolFile), slog.String("moved_to", rec.corrupt))
	}
	if rec.bytes > 0 || rec.skipped > 0 {
		l.slog.LogAttrs(ctx, slog.LevelWarn, "logging: recovered records from the spool of a process that did not close its logger",
			slog.String("spool", cfg.SpoolFile), slog.Int64("records", rec.records),
			slog.Int64("bytes", rec.bytes), slog.Int64("already_written_bytes", rec.skipped))
	}
	return l, nil
}

// Handler returns the Logger's slog.Handler, for slog.New, slog.SetDefault
// or wrapping. Every handler derived from it (WithAttrs, WithGroup) writes
// through this Logger.
func (l *Logger) Handler() slog.Handler { return l.root }

// Logger returns a *slog.Logger on Handler.
func (l *Logger) Logger() *slog.Logger { return l.slog }

// SetLevel changes the minimum level, at once, for every handler of l.
func (l *Logger) SetLevel(level slog.Level) { l.level.Set(level) }

// Level returns the minimum level.
func (l *Logger) Level() slog.Level { return l.level.Level() }

// Dropped returns how many records the Drop policy has discarded since New.
func (l *Logger) Dropped() uint64 {
	if l.ring == nil {
		return 0
	}
	return l.ring.dropped.Load()
}

// Flush returns once every record accepted before the call is written to
// the output and, for a file, committed to stable storage with fsync (so
// the lines survive a machine crash, not only a process crash). It costs a
// disk flush: call it at checkpoints, not per record. It returns the write
// error if the async writer failed (the records then stay in the ring and
// the spool, and are retried).
func (l *Logger) Flush() error {
	if l.ring != nil {
		if err := l.ring.flush(); err != nil {
			return err
		}
	}
	return l.out.sync()
}

// Reopen closes and reopens the output file by its path, so that after an
// external rotation (mv app.log app.log.1; kill -USR1) new lines go to a
// fresh file. Lines already accepted may land in either file, none is lost.
// It does nothing for stderr and Config.Writer outputs.
func (l *Logger) Reopen() error { return l.out.reopen() }

// RotateIfDue rotates the log file now if it is due by size or by day,
// judging the size by the file itself rather than by what this process
// wrote: for a file several processes append to (wharfd's workers), one of
// them calls it periodically and then has the others Reopen. It reports
// whether it rotated. It does nothing for stderr or a Writer.
func (l *Logger) RotateIfDue() (bool, error) {
	if err := l.Flush(); err != nil {
		return false, err
	}
	return l.out.rotateIfDueShared()
}

// Close flushes everything accepted, stops the writer goroutine, fsyncs and
// closes the file, then unmaps and removes the spool. If a write fails, the
// spool is kept and the next New writes what it holds. Records handed to
// the Logger after Close go to os.Stderr and Handle returns ErrClosed.
// Close is idempotent: later calls return the first call's result.
func (l *Logger) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Logger) close() error {
	var errs []error
	clean := true
	if l.ring != nil {
		if err := l.ring.close(); err != nil {
			errs = append(errs, err)
			clean = false
		}
	}
	errs = append(errs, l.out.sync(), l.out.close())
	if l.spool != nil {
		errs = append(errs, l.spool.close(clean))
	}
	return errors.Join(errs...)
}

// emit writes one encoded line.
func (l *Logger) emit(b []byte) error {
	var err error
	if l.ring != nil {
		err = l.ring.write(b)
	} else {
		err = l.out.write(b)
	}
	if err == ErrClosed {
		os.Stderr.Write(b)
	}
	return err
}

// reportDrops writes a warning about dropped records straight to the
// output (the ring may be full). The writer goroutine calls it.
func (l *Logger) reportDrops(n, total uint64) {
	r := slog.NewRecord(time.Now(), slog.LevelWarn, "logging: async ring full, records dropped", 0)
	r.AddAttrs(slog.Uint64("dropped", n), slog.Uint64("dropped_total", total))
	b := l.root.appendRecord(nil, &r)
	if err := l.out.write(b); err != nil && err != ErrClosed {
		fmt.Fprintf(os.Stderr, "logging: %v\n", err)
	}
}
