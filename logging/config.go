package logging

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// Output formats for Config.Format.
const (
	FormatText = "text" // the seed's line: 2023-05-13 17:57:49.440 [conn/conn.go:891]-[debug]-msg k=v
	FormatJSON = "json" // one JSON object per line, keys as log/slog's JSONHandler
)

// Limits checked by Config.Validate.
const (
	minBufferSize = 4 << 10
	maxBufferSize = 64 << 20
	minBuffers    = 2
	maxBuffers    = 1024
)

// Defaults applied by New to zero Config fields.
const (
	DefaultBufferSize    = 256 << 10
	DefaultBuffers       = 8
	DefaultFlushInterval = time.Second
)

// Config configures a Logger. The zero Config is valid: info level, text
// format, synchronous writes to os.Stderr.
type Config struct {
	// Level is the minimum level written. Default slog.LevelInfo. If Level is
	// a *slog.LevelVar, the Logger uses it directly, so both that variable and
	// Logger.SetLevel change the level; any other Leveler is read once by New.
	Level slog.Leveler

	// Format is FormatText (default, also "") or FormatJSON.
	Format string

	// File is the path of the log file; missing directories are created.
	// Default "" writes to os.Stderr.
	File string

	// Writer, if non-nil, receives the output instead of os.Stderr (tests,
	// pipes, an in-memory sink); File must then be "". Writes to it are
	// serialised, Reopen does nothing for it, and it has no spool unless
	// SpoolFile is set. Default nil.
	Writer io.Writer

	// AddSource adds the caller's file:line ("dir/file.go:42", the last
	// directory and the file name) to each line. Default false; wharfd turns
	// it on.
	AddSource bool

	// Async selects the asynchronous writer: Handle copies the encoded record
	// into a ring of buffers and a background goroutine writes full buffers.
	// Default false: Handle writes each record before it returns.
	Async bool

	// BufferSize is the size in bytes of each async buffer (4 KiB to 64 MiB).
	// Default 256 KiB. Async only.
	BufferSize int

	// Buffers is the number of buffers in the async ring (2 to 1024). Memory
	// used by the ring is BufferSize*Buffers, allocated once. Default 8.
	Buffers int

	// FlushInterval bounds how long an accepted record may wait in a partly
	// filled buffer: the writer hands such a buffer to the output at least
	// this often. Default 1s. Async only.
	FlushInterval time.Duration

	// OnFull says what Handle does when every async buffer is full: Block
	// (default) waits for the writer, Drop discards the record and counts it
	// (see Logger.Dropped; the count is also logged once space frees up).
	OnFull FullPolicy

	// SpoolFile is the path of the file-backed shared memory that holds the
	// async ring, so records accepted before a crash are written by the next
	// New. Default File+".spool" when File is set, on Linux: spools need its
	// shared file mappings, so elsewhere the default is none and New refuses
	// a SpoolFile with ErrSpoolUnsupported. With File == "" (stderr) or
	// a Writer, the default is no spool: the ring lives in process memory and
	// a crash loses what it holds, because stderr has no stable place to put
	// recovered lines; set SpoolFile to opt in. Each process needs its own
	// spool: New fails with ErrSpoolBusy if another live process holds it.
	// New recovers a spool it finds at this path even when Async is false.
	SpoolFile string

	// MaxSizeMB rotates the file before a write would make it larger than
	// this many MiB. Default 0: no size rotation. File only.
	MaxSizeMB int

	// MaxBackups is how many rotated files to keep. Default 0: keep all
	// (subject to MaxAgeDays).
	MaxBackups int

	// MaxAgeDays removes rotated files older than this many days, judged by
	// the time in their name. Default 0: no age limit.
	MaxAgeDays int

	// Daily rotates the file at the first write after local midnight (as told
	// by Clock). Default false.
	Daily bool

	// Compress gzips rotated files in the background. Default false.
	Compress bool

	// Clock tells the time for daily rotation, backup names and MaxAgeDays.
	// Default time.Now. Record timestamps come from the slog.Record, not from
	// Clock.
	Clock func() time.Time
}

// Validate reports the first field with a bad value as a *ConfigError. Zero
// values are valid: they select the documented defaults.
func (c Config) Validate() error {
	switch strings.ToLower(c.Format) {
	case "", FormatText, FormatJSON:
	default:
		return &ConfigError{"Format", c.Format, `want "text" or "json"`}
	}
	if c.BufferSize != 0 && (c.BufferSize < minBufferSize || c.BufferSize > maxBufferSize) {
		return &ConfigError{"BufferSize", c.BufferSize, "want 4096 to 67108864 bytes"}
	}
	if c.Buffers != 0 && (c.Buffers < minBuffers || c.Buffers > maxBuffers) {
		return &ConfigError{"Buffers", c.Buffers, "want 2 to 1024"}
	}
	if c.FlushInterval < 0 {
		return &ConfigError{"FlushInterval", c.FlushInterval, "must not be negative"}
	}
	if c.OnFull != Block && c.OnFull != Drop {
		return &ConfigError{"OnFull", c.OnFull, "want Block or Drop"}
	}
	if c.MaxSizeMB < 0 {
		return &ConfigError{"MaxSizeMB", c.MaxSizeMB, "must not be negative"}
	}
	if c.MaxBackups < 0 {
		return &ConfigError{"MaxBackups", c.MaxBackups, "must not be negative"}
	}
	if c.MaxAgeDays < 0 {
		return &ConfigError{"MaxAgeDays", c.MaxAgeDays, "must not be negative"}
	}
	if c.File != "" && c.Writer != nil {
		return &ConfigError{"Writer", c.Writer, "set File or Writer, not both"}
	}
	if c.File == "" && (c.MaxSizeMB != 0 || c.Daily || c.Compress || c.MaxBackups != 0 || c.MaxAgeDays != 0) {
		return &ConfigError{"File", c.File, "rotation needs a file"}
	}
	if c.File != "" && c.SpoolFile == c.File {
		return &ConfigError{"SpoolFile", c.SpoolFile, "must differ from File"}
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Level == nil {
		c.Level = slog.LevelInfo
	}
	c.Format = strings.ToLower(c.Format)
	if c.Format == "" {
		c.Format = FormatText
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.Buffers == 0 {
		c.Buffers = DefaultBuffers
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.SpoolFile == "" && c.File != "" && SpoolSupported {
		c.SpoolFile = c.File + ".spool"
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// FullPolicy says what an async Logger does with a record when its ring of
// buffers is full. It reads and writes as "block" or "drop" in config files
// (encoding.TextMarshaler and TextUnmarshaler).
type FullPolicy uint8

const (
	// Block makes Handle wait until the writer frees a buffer: nothing is
	// lost, but a slow disk slows the callers. The default.
	Block FullPolicy = iota
	// Drop makes Handle discard the record and count it: callers never wait.
	Drop
)

// String returns "block" or "drop".
func (p FullPolicy) String() string {
	switch p {
	case Block:
		return "block"
	case Drop:
		return "drop"
	}
	return "FullPolicy(" + itoa(int64(p)) + ")"
}

// ParseFullPolicy parses "block" or "drop" (any case).
func ParseFullPolicy(s string) (FullPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "block":
		return Block, nil
	case "drop":
		return Drop, nil
	}
	return 0, &ConfigError{"OnFull", s, `want "block" or "drop"`}
}

// MarshalText implements encoding.TextMarshaler.
func (p FullPolicy) MarshalText() ([]byte, error) {
	if p != Block && p != Drop {
		return nil, &ConfigError{"OnFull", p, "want Block or Drop"}
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *FullPolicy) UnmarshalText(b []byte) error {
	v, err := ParseFullPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
