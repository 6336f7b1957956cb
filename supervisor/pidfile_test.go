package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSignalRefusesAnotherProgram: a stale pid file naming a pid that
// another program has taken gets that program no signal.
func TestSignalRefusesAnotherProgram(t *testing.T) {
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Skipf("no sleep command: %v", err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	pidFile := filepath.Join(t.TempDir(), "wharfd.pid")
	os.WriteFile(pidFile, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o644)
	if _, err := Signal(pidFile, "stop"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal to another program's pid = %v, want ErrNotRunning", err)
	}
	if !processExists(sleep.Process.Pid) {
		t.Fatal("the other program is gone")
	}
}

// TestPidFileIgnoresPlantedSymlink: writing the pid file never follows a
// symlink planted where a predictable temporary name would be.
func TestPidFileIgnoresPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	pidFile := filepath.Join(dir, "wharfd.pid")
	if err := os.Symlink(victim, fmt.Sprintf("%s.%d.tmp", pidFile, os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if err := writePidFile(pidFile); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("the symlink's target was overwritten: %q", b)
	}
	if pid, err := ReadPid(pidFile); err != nil || pid != os.Getpid() {
		t.Fatalf("pid file holds %d, %v; want our pid", pid, err)
	}
	if fi, err := os.Lstat(pidFile); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("pid file %v %v: want a regular 0644 file", fi.Mode(), err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".wharfd.pid.*.tmp"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}
