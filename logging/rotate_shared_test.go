package logging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRotateIfDueSeesOtherWriters: the file grows through another writer
// (as wharfd's workers share the master's log file); RotateIfDue judges by
// the file's size, rotates, and the other writer's Reopen starts the new file.
func TestRotateIfDueSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.log")
	master, err := New(Config{File: path, MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	wcfg := Config{File: path}
	if SpoolSupported {
		wcfg.SpoolFile = path + ".w.spool" // each process its own
	}
	worker, err := New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if rotated, err := master.RotateIfDue(); err != nil || rotated {
		t.Fatalf("RotateIfDue on a small file: %v %v", rotated, err)
	}
	line := strings.Repeat("x", 1000)
	for range 1100 { // over 1 MiB, all written by the worker
		worker.Logger().Info(line)
	}
	worker.Flush()
	rotated, err := master.RotateIfDue()
	if err != nil || !rotated {
		t.Fatalf("RotateIfDue after another writer filled the file: %v %v", rotated, err)
	}
	if err := worker.Reopen(); err != nil {
		t.Fatal(err)
	}
	worker.Logger().Info("after rotation")
	worker.Flush()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "after rotation") || len(b) > 10000 {
		t.Fatalf("new file holds %d bytes; want only the line after rotation", len(b))
	}
	backups, _ := filepath.Glob(filepath.Join(dir, "shared-*.log"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	_ = time.Second
}
