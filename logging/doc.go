// Package logging is wharf's logger: a log/slog Handler with a synchronous
// and an asynchronous writer, whose async ring of buffers lives in a
// file-backed shared memory mapping so that records survive a crash of the
// process.
//
// # Use
//
// The front is the standard library: every Go package that logs through
// log/slog logs through this package.
//
//	l, err := logging.New(logging.Config{File: "/var/log/wharf/wharfd.log", Async: true, AddSource: true})
//	if err != nil { ... }
//	defer l.Close()              // flushes, also while a panic in main unwinds
//	slog.SetDefault(l.Logger())
//	slog.Info("listening", "addr", ":7000", "loops", 2)
//
// wharfd calls Reopen on SIGUSR1 (after logrotate moved the file away) and
// Close from its own SIGTERM/SIGINT handling; programs without signal
// handling of their own can use CloseOnSignal.
//
// # Format
//
// Text (the default) follows the lines of the C library this project grew
// from: time with milliseconds, source file:line, level, message, then the
// attributes as key=value:
//
//	2023-05-13 17:57:49.440 [server/conn.go:891]-[debug]-readv len=22235 conn=7 peer="10.0.0.7:5511"
//
// Times are in time.Local (set TZ=UTC for UTC). The date is ISO 8601 rather
// than the seed's dd/mm/yy, so lines sort and read the same everywhere. The
// source part is present only with Config.AddSource and shows the last
// directory and the file name. The message is written as is, spaces
// included, unless it holds a control character or invalid UTF-8: then it
// is quoted, so one record is always one line. Values and keys are quoted
// (Go syntax) when they are empty or contain spaces, '=', '"', control or
// non-printing characters. Groups prefix keys: req.method=GET.
//
// JSON writes one object per line with log/slog's JSONHandler keys:
//
//	{"time":"2023-05-13T17:57:49.440123+08:00","level":"DEBUG","source":"server/conn.go:891","msg":"readv","len":22235}
//
// with microseconds in the time, groups as nested objects, durations in
// nanoseconds, and NaN and infinities as the strings "NaN", "+Inf", "-Inf"
// (slog's handler would fail on them). Function names are not written:
// file:line finds the call and keeps lines short. HandlerOptions.ReplaceAttr
// has no equivalent; wrap the Handler for that.
//
// # Sync and async
//
// In sync mode (the default) Handle writes each record with one write call
// before it returns, under a lock that keeps lines whole.
//
// In async mode Handle encodes the record, copies it into the current buffer
// of a ring of Config.Buffers buffers of Config.BufferSize bytes, and
// returns: it never waits for I/O. A single writer goroutine writes full
// buffers, in order, and hands partly filled ones over at least every
// Config.FlushInterval. When every buffer is full, Config.OnFull decides:
// Block waits for the writer (nothing lost, callers slowed to the disk's
// pace) and Drop discards the record, counts it (Logger.Dropped) and logs
// the count once the writer catches up. Memory is bounded: the ring is
// allocated once, plus one pooled scratch buffer per goroutine inside Handle.
// A record longer than a buffer is spread over consecutive buffers and
// still written as one piece; one longer than the whole ring is cut to it
// and ends in "...(truncated)".
//
// # Crash safety
//
// With a file output, the async ring is a MAP_SHARED mapping of a spool file
// beside the log (Config.SpoolFile, default File+".spool"). Handle copies
// the record straight into that mapping; each buffer carries a small header
// (state, length, sequence number) there too. Pages of a shared file mapping
// belong to the kernel's page cache, so when the process dies, by SIGKILL,
// an OOM kill or a panic in any goroutine, every record whose Handle had
// returned is still in the file. The next New with the same SpoolFile finds
// the buffers that were filling, pending or being written, appends them to
// the log in order, logs how many records and bytes it recovered, and
// clears the spool. No fsync is involved; a machine crash or power loss is
// a different matter: the page cache is lost with the machine, and with it
// both the spool's and the log's unwritten pages. Flush and Close fsync the
// log for that case.
//
// Delivery is at least once. Before writing a buffer, the writer notes in
// its header the log file (device, inode) and offset it writes to; a
// recovery that finds a buffer marked "writing" reads the log at that
// offset and skips the buffer if its bytes are already there. So a kill in
// the window between writing a buffer and marking it free does not
// duplicate lines, except when the file was rotated or reopened in between,
// or another process appended to it, or the write was cut short: then the
// buffer (or its unwritten part) is written again.
//
// A graceful exit (Close), a panic in the main goroutine with
// "defer l.Close()" in main, and SIGTERM/SIGINT handled by the program (or
// by CloseOnSignal) write everything and remove the spool. An unrecovered
// panic in another goroutine skips main's deferred calls: its records are
// recovered from the spool by the next start.
//
// Each process needs its own spool: New locks the file (flock) and fails
// with ErrSpoolBusy if a live process holds it; the kernel drops the lock
// of a dead process. With stderr or a Config.Writer as output there is no
// spool by default (the ring is ordinary memory and a crash loses what it
// holds), because recovered lines would have no stable place to go; set
// SpoolFile to have one. A sync Logger still recovers a spool it finds at
// its SpoolFile, so switching a service from async to sync loses nothing.
// The spool's blocks are allocated up front (fallocate), so a full disk
// fails New instead of killing the process with SIGBUS later.
//
// # Files
//
// A file output is opened for appending, its directory created. It can
// rotate by size (MaxSizeMB) and at local midnight (Daily, judged by
// Config.Clock), keeping MaxBackups backups no older than MaxAgeDays,
// optionally gzipped in a background goroutine. Backups are named like
// lumberjack's: app-2024-05-01T00-00-00.000.log. Rotation happens only
// between records. Reopen reopens the file by its path for external
// rotation (logrotate with a SIGUSR1 to wharfd).
//
// # Cost
//
// In the steady state Handle allocates nothing for string, int, int64,
// uint64, float64, bool, duration, time and error attributes, with or
// without source, in either format and mode: the date and clock are
// formatted once per second and only the fraction per record; file:line is
// resolved once per call site and cached; attributes given to With are
// formatted once. Other kinds (groups, arbitrary values) may allocate.
// Note that slog.Record keeps five attributes inline: a sixth passed to a
// log call makes slog itself allocate.
//
// # Goroutines
//
// All methods of Logger and of its handlers may be called from any
// goroutine. An async Logger runs one writer goroutine, and a file output
// with MaxBackups, MaxAgeDays or Compress one more for the backups; Close
// stops both and waits for them.
package logging
