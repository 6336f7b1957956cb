package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// upgradeState is a binary upgrade in progress: a new master started from
// the executable on disk, holding duplicates of every socket.
type upgradeState struct {
	cmd    *exec.Cmd
	result chan error // nil once the new master is serving; an error if it failed
}

// upgradeTimeout bounds how long the new master may take to serve.
const upgradeTimeout = 60 * time.Second

// startUpgrade starts a new master from the executable on disk and hands it
// every socket. The pid file moves to PID_FILE.oldbin until the new master
// is serving (like nginx), so the new master can write its own.
func (m *master) startUpgrade() {
	if m.upgrade != nil {
		m.log.Warn("supervisor: binary upgrade already in progress")
		return
	}
	files, layout, err := m.sockets.allFiles()
	if err != nil {
		m.log.Error("supervisor: binary upgrade", "err", err)
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		closeFiles(files)
		m.log.Error("supervisor: binary upgrade", "err", err)
		return
	}
	cmd := exec.Command(m.cfg.Executable, m.cfg.Args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = append(files, w)
	cmd.Env = append(cleanEnv(os.Environ()),
		envInherit+"="+layout,
		envReadyFd+"="+strconv.Itoa(3+len(files)),
		envDaemon+"=1", // already where it should be: never detach again
	)
	if m.cfg.PidFile != "" {
		if err := os.Rename(m.cfg.PidFile, m.cfg.PidFile+".oldbin"); err != nil && !errors.Is(err, os.ErrNotExist) {
			closeFiles(files)
			r.Close()
			w.Close()
			m.log.Error("supervisor: binary upgrade: move pid file", "err", err)
			return
		}
	}
	err = cmd.Start()
	closeFiles(files)
	w.Close()
	if err != nil {
		r.Close()
		m.restorePidFile()
		m.log.Error("supervisor: binary upgrade: start new master", "executable", m.cfg.Executable, "err", err)
		return
	}
	u := &upgradeState{cmd: cmd, result: make(chan error, 1)}
	m.upgrade = u
	m.log.Info("supervisor: binary upgrade: new master started", "pid", cmd.Process.Pid, "executable", m.cfg.Executable)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	go func() {
		defer r.Close()
		line := make(chan string, 1)
		go func() {
			s, _ := bufio.NewReader(r).ReadString('\n')
			line <- strings.TrimSpace(s)
		}()
		select {
		case s := <-line:
			if s == "ready" {
				u.result <- nil
				return
			}
			u.result <- fmt.Errorf("new master failed before serving: %s", exitStatus(<-exited))
		case err := <-exited:
			u.result <- fmt.Errorf("new master exited before serving: %s", exitStatus(err))
		case <-time.After(upgradeTimeout):
			u.result <- fmt.Errorf("new master not serving after %v", upgradeTimeout)
		}
	}()
}

// cleanEnv drops the variables that describe this process's own role.
func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "WHARF_SUPERVISOR_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (m *master) upgradeDone() <-chan error {
	if m.upgrade == nil {
		return nil
	}
	return m.upgrade.result
}

// finishUpgrade reports whether the upgrade succeeded (the old master must
// now drain and exit); on failure it puts things back and keeps serving.
func (m *master) finishUpgrade(err error) bool {
	u := m.upgrade
	if err == nil {
		m.log.Info("supervisor: binary upgrade: new master is serving, draining the old workers", "new_pid", u.cmd.Process.Pid)
		return true
	}
	m.upgrade = nil
	u.cmd.Process.Kill()
	m.restorePidFile()
	m.log.Error("supervisor: binary upgrade failed, the old master keeps serving", "err", err)
	return false
}

func (m *master) restorePidFile() {
	if m.cfg.PidFile == "" {
		return
	}
	if err := os.Rename(m.cfg.PidFile+".oldbin", m.cfg.PidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Error("supervisor: restore pid file", "err", err)
	}
}

// abortUpgrade stops a new master that is still starting when the old one
// is told to stop.
func (m *master) abortUpgrade() {
	if m.upgrade == nil {
		return
	}
	m.upgrade.cmd.Process.Kill()
	m.restorePidFile()
	m.upgrade = nil
}

// exitAfterUpgrade drains the old workers and exits, leaving the sockets
// (and Unix socket files) to the new master.
func (m *master) exitAfterUpgrade() error {
	m.stopping = true
	ws := m.liveWorkers()
	for _, w := range ws {
		w.draining = true
		w.h.stop(true)
	}
	m.waitWorkers(ws, m.spec.DrainTimeout+10*time.Second)
	for _, slot := range m.sockets.slots {
		for _, s := range slot {
			s.close() // our descriptors only: the new master holds its own
		}
	}
	if m.cfg.PidFile != "" {
		os.Remove(m.cfg.PidFile + ".oldbin")
	}
	m.log.Info("supervisor: old master exiting after upgrade")
	return nil
}

// notifyFd writes a line to an inherited pipe descriptor and closes it.
func notifyFd(fd, line string) {
	n, err := strconv.Atoi(fd)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(n), "notify")
	if f == nil {
		return
	}
	f.WriteString(line + "\n")
	f.Close()
}
