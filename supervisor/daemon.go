package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Daemonize detaches the program from its terminal: unless already
// detached, it starts a copy of itself in a new session with stdin, stdout
// and stderr on /dev/null, waits until the copy reports that it serves (or
// why it failed), and returns parent=true: the caller then exits with err's
// status. In the detached copy it returns parent=false and the program goes
// on; it must call DaemonReady (or DaemonFailed) once.
func Daemonize() (parent bool, err error) {
	if os.Getenv(envDaemon) != "" {
		return false, nil
	}
	attr, err := daemonAttr()
	if err != nil {
		return true, err
	}
	exe, err := os.Executable()
	if err != nil {
		return true, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return true, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return true, err
	}
	defer null.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), envDaemon+"=1", envNotifyFd+"=3")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		return true, fmt.Errorf("supervisor: daemonize: %w", err)
	}
	w.Close()
	pid := cmd.Process.Pid
	cmd.Process.Release()
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	line = strings.TrimSpace(line)
	switch {
	case line == "ready":
		return true, nil
	case strings.HasPrefix(line, "error: "):
		return true, errors.New(strings.TrimPrefix(line, "error: "))
	}
	return true, fmt.Errorf("supervisor: daemon (pid %d) exited before it was ready", pid)
}

// DaemonReady tells the waiting parent (if any) that the daemon serves.
func DaemonReady() { notifyParent("ready") }

// DaemonFailed tells the waiting parent (if any) why the daemon failed.
func DaemonFailed(err error) { notifyParent("error: " + strings.ReplaceAll(err.Error(), "\n", "; ")) }

func notifyParent(line string) {
	fd := os.Getenv(envNotifyFd)
	if fd == "" {
		return
	}
	os.Unsetenv(envNotifyFd)
	if _, err := strconv.Atoi(fd); err == nil {
		notifyFd(fd, line)
	}
}
