package logging_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"wharf/logging"
)

// The zero Config logs text to stderr, synchronously.
func ExampleNew() {
	l, err := logging.New(logging.Config{AddSource: true})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	slog.SetDefault(l.Logger())
	slog.Info("listening", "addr", ":7000")
	// stderr: 2024-05-01 10:00:00.000 [cmd/main.go:15]-[info]-listening addr=:7000
}

// An async Logger writing JSON to a file, with its crash-safe spool beside it.
func ExampleNew_asyncFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, err := logging.New(logging.Config{
		File:      filepath.Join(dir, "wharfd.log"),
		Format:    logging.FormatJSON,
		Async:     true,
		OnFull:    logging.Drop,
		MaxSizeMB: 100,
		Daily:     true,
	})
	if err != nil {
		panic(err)
	}
	log := l.Logger().With("worker", 1)
	log.Warn("slow handler", "code", 7, "took", 1500*time.Millisecond, "err", errors.New("deadline"))
	if err := l.Close(); err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "wharfd.log"))
	line := string(b)
	fmt.Println(line[strings.Index(line, `"level"`):])
	// Output:
	// "level":"WARN","msg":"slow handler","worker":1,"code":7,"took":1500000000,"err":"deadline"}
}

// Reopen after an external tool moved the file away: new lines go to a new
// file at the configured path. wharfd does this on SIGUSR1.
func ExampleLogger_Reopen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")
	l, _ := logging.New(logging.Config{File: path})
	defer l.Close()
	l.Logger().Info("first")
	os.Rename(path, path+".1") // logrotate
	if err := l.Reopen(); err != nil {
		panic(err)
	}
	l.Logger().Info("second")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	fmt.Print(string(old[24:]), string(cur[24:])) // past the timestamp
	// Output:
	// [info]-first
	// [info]-second
}

// Flush waits until everything accepted is written and fsync'ed.
func ExampleLogger_Flush() {
	var out strings.Builder
	l, _ := logging.New(logging.Config{Writer: &out, Async: true, FlushInterval: time.Hour})
	defer l.Close()
	l.Logger().Info("checkpoint")
	if err := l.Flush(); err != nil {
		panic(err)
	}
	fmt.Println(strings.Contains(out.String(), "checkpoint"))
	// Output: true
}

// Handler plugs the Logger under any slog front end.
func ExampleLogger_Handler() {
	var out strings.Builder
	l, _ := logging.New(logging.Config{Writer: &out})
	defer l.Close()
	log := slog.New(l.Handler()).WithGroup("req")
	log.Info("done", "method", "GET", "path", "/a b")
	fmt.Print(out.String()[24:])
	// Output: [info]-done req.method=GET req.path="/a b"
}

func ExampleLogger_SetLevel() {
	var out strings.Builder
	l, _ := logging.New(logging.Config{Writer: &out})
	defer l.Close()
	l.Logger().Debug("hidden")
	l.SetLevel(slog.LevelDebug) // on config reload
	l.Logger().Debug("shown")
	fmt.Print(out.String()[24:])
	// Output: [debug]-shown
}

func ExampleLogger_Dropped() {
	var out strings.Builder
	l, _ := logging.New(logging.Config{Writer: &out, Async: true, OnFull: logging.Drop})
	l.Logger().Info("hello")
	l.Close()
	fmt.Println(l.Dropped())
	// Output: 0
}

// CloseOnSignal is for programs with no signal handling of their own.
func ExampleLogger_CloseOnSignal() {
	l, _ := logging.New(logging.Config{})
	stop := l.CloseOnSignal() // SIGTERM, SIGINT: close the logger, then die of the signal
	defer stop()
	defer l.Close()
	l.Logger().Info("serving")
}

func ExampleParseFullPolicy() {
	p, err := logging.ParseFullPolicy("drop")
	fmt.Println(p, err)
	// Output: drop <nil>
}

func ExampleConfig_Validate() {
	err := logging.Config{Buffers: 1}.Validate()
	var ce *logging.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field)
	// Output: true Buffers
}

// Logger is the *slog.Logger to hand to the rest of the program.
func ExampleLogger_Logger() {
	var out strings.Builder
	l, _ := logging.New(logging.Config{Writer: &out, Format: logging.FormatJSON})
	defer l.Close()
	l.Logger().Info("hello", "conn", 7)
	line := out.String()
	fmt.Print(line[strings.Index(line, `"level"`):])
	// Output: "level":"INFO","msg":"hello","conn":7}
}

// Close writes everything, stops the writer and removes the spool; call it
// deferred in main.
func ExampleLogger_Close() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")
	l, _ := logging.New(logging.Config{File: path, Async: true})
	l.Logger().Info("bye")
	if err := l.Close(); err != nil {
		panic(err)
	}
	_, err := os.Stat(path + ".spool")
	fmt.Println(os.IsNotExist(err))
	// Output: true
}

func ExampleLogger_Level() {
	l, _ := logging.New(logging.Config{Level: slog.LevelWarn})
	defer l.Close()
	fmt.Println(l.Level())
	// Output: WARN
}

// FullPolicy reads from config files as text.
func ExampleFullPolicy_UnmarshalText() {
	var p logging.FullPolicy
	err := p.UnmarshalText([]byte("block"))
	fmt.Println(p == logging.Block, err)
	// Output: true <nil>
}
