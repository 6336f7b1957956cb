package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// writePidFile writes our pid atomically (a temporary file renamed into
// place). It refuses with ErrRunning when the file names a live process
// running the same program, so a second master cannot start on the same
// pid file; a stale file (a dead process, or an unrelated one that reused
// the pid) is replaced.
func writePidFile(path string) error {
	if path == "" {
		return nil
	}
	if pid, err := ReadPid(path); err == nil && pid != os.Getpid() && sameProgramAlive(pid) {
		return fmt.Errorf("%w: %s names pid %d, which is alive (stop it first, or remove the file if it is stale)", ErrRunning, path, pid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("supervisor: pid file %s: %w", path, err)
	}
	// A fresh name made with O_EXCL: a predictable one could be a symlink
	// planted by another user to make us overwrite their choice of file.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("supervisor: pid file %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644) // readable by wharfd -s of other users, as nginx's
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("supervisor: pid file %s: %w", path, err)
	}
	return nil
}

// CheckPidFile reports ErrRunning when path names a live master running
// this program: call it before opening anything, so a second start refuses
// cleanly. Run checks again when it writes the file.
func CheckPidFile(path string) error {
	if path == "" || os.Getenv(envReadyFd) != "" {
		return nil // no pid file, or a new master of a binary upgrade (the old one moved it)
	}
	if pid, err := ReadPid(path); err == nil && pid != os.Getpid() && sameProgramAlive(pid) {
		return fmt.Errorf("%w: %s names pid %d, which is alive (stop it first, or remove the file if it is stale)", ErrRunning, path, pid)
	}
	return nil
}

// removePidFile removes the pid file if it still names this process.
func removePidFile(path string) {
	if path == "" {
		return
	}
	if pid, err := ReadPid(path); err == nil && pid == os.Getpid() {
		os.Remove(path)
	}
}

// ReadPid reads a pid file.
func ReadPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("supervisor: pid file %s does not hold a pid", path)
	}
	return pid, nil
}

// sameProgramAlive reports whether pid is a live process running the same
// executable as we are (so a recycled pid of another program is not taken
// for a running master).
func sameProgramAlive(pid int) bool {
	if !processExists(pid) {
		return false
	}
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return true // cannot tell: be safe
	}
	ours, err := os.Executable()
	if err != nil {
		return true
	}
	clean := func(s string) string { return filepath.Base(strings.TrimSuffix(s, " (deleted)")) }
	return clean(theirs) == clean(ours)
}

// Signals that `-s` names, as nginx -s does.
var signalNames = map[string]syscall.Signal{
	"reload":  syscall.SIGHUP,
	"stop":    syscall.SIGTERM,
	"quit":    syscall.SIGQUIT,
	"reopen":  sigReopen,
	"upgrade": sigUpgrade,
}

// Signal sends the named signal (reload, stop, quit, reopen, upgrade) to the
// master whose pid is in pidFile.
func Signal(pidFile, name string) (int, error) {
	sig, ok := signalNames[name]
	if !ok {
		return 0, fmt.Errorf("supervisor: unknown signal %q (want reload, stop, quit, reopen or upgrade)", name)
	}
	if pidFile == "" {
		return 0, fmt.Errorf("supervisor: no pid_file configured: cannot find the master")
	}
	pid, err := ReadPid(pidFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%w: no pid file %s", ErrNotRunning, pidFile)
		}
		return 0, err
	}
	// The same identity check as at startup: a stale pid file may name a
	// pid that another program has taken since, and it must not get our
	// signal.
	if processExists(pid) && !sameProgramAlive(pid) {
		return pid, fmt.Errorf("%w: pid %d from %s runs another program (stale pid file); not signalled", ErrNotRunning, pid, pidFile)
	}
	if err := kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return pid, fmt.Errorf("%w: pid %d from %s is gone (stale pid file)", ErrNotRunning, pid, pidFile)
		}
		return pid, fmt.Errorf("supervisor: signal pid %d: %w", pid, err)
	}
	return pid, nil
}
