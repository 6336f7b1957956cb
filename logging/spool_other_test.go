//go:build !linux

package logging

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Off Linux a file Logger has no spool by default, and an explicit one is
// refused with ErrSpoolUnsupported naming the platform.
func TestSpoolUnsupportedOffLinux(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Config{File: filepath.Join(dir, "a.log"), Async: true})
	if err != nil {
		t.Fatalf("file Logger with the default spool: %v", err)
	}
	if l.spool != nil {
		t.Fatal("got a spool off Linux")
	}
	l.Close()
	_, err = New(Config{File: filepath.Join(dir, "b.log"), SpoolFile: filepath.Join(dir, "b.spool")})
	if !errors.Is(err, ErrSpoolUnsupported) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Fatalf("New with a SpoolFile = %v, want ErrSpoolUnsupported naming %s", err, runtime.GOOS)
	}
}
