//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSingleProcessCtrlC(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "")
	d := startWharfd(t, dir, "-c", cfg)
	if err := ping(port); err != nil {
		t.Fatal(err)
	}
	if len(d.workers()) != 0 {
		t.Fatal("processes = 0 must not fork workers")
	}
	d.signal(syscall.SIGINT)
	if err := d.wait(10 * time.Second); err != nil {
		t.Fatalf("exit after Ctrl-C: %v", err)
	}
	if !strings.Contains(d.log.String(), "supervisor: stopped") {
		t.Fatal("no clean stop in the log")
	}
	if _, err := os.Stat(filepath.Join(dir, "wharfd.pid")); !os.IsNotExist(err) {
		t.Fatal("pid file left behind")
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		t.Fatal("still listening after stop")
	}
}

func TestWorkersShareLoadAndSurviveKill(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "processes = 2")
	d := startWharfd(t, dir, "-c", cfg)
	ws := d.waitWorkers(2, 10*time.Second)

	// Connections land on every worker.
	var conns []net.Conn
	owners := map[int][]net.Conn{}
	for range 40 {
		c := dialPinged(t, port)
		owner := ownerOf(t, ws, port, c.LocalAddr().(*net.TCPAddr).Port)
		owners[owner] = append(owners[owner], c)
		conns = append(conns, c)
	}
	if len(owners[ws[0]]) == 0 || len(owners[ws[1]]) == 0 {
		t.Fatalf("connections per worker: %d and %d, want both > 0", len(owners[ws[0]]), len(owners[ws[1]]))
	}

	// kill -9 one worker: the other keeps its connections, and a new
	// worker serves within a second.
	victim, survivor := ws[0], ws[1]
	syscall.Kill(victim, syscall.SIGKILL)
	start := time.Now()
	for _, c := range owners[survivor] {
		if err := pingOn(c); err != nil {
			t.Fatalf("a connection on the surviving worker broke: %v", err)
		}
	}
	var replacement int
	for replacement == 0 {
		for _, pid := range d.workers() {
			if pid != survivor && pid != victim {
				replacement = pid
			}
		}
		if time.Since(start) > time.Second {
			t.Fatalf("no replacement worker within a second: %v", d.workers())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// New connections are all served (the victim's slot queues them for the
	// replacement instead of refusing them).
	for range 20 {
		if err := ping(port); err != nil {
			t.Fatalf("after the kill: %v", err)
		}
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("recovery took %v", time.Since(start))
	}
	if !strings.Contains(d.log.String(), "worker died, restarting") {
		t.Fatal("the death was not logged")
	}
	d.signal(syscall.SIGTERM)
	d.wait(15 * time.Second)
}

func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "processes = 2")
	d := startWharfd(t, dir, "-c", cfg)
	old := d.waitWorkers(2, 10*time.Second)

	big := make([]byte, 20000) // over the default max_packet (16 KiB)
	bigPing := func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(encode(0, big))
		_, _, err = readPacket(c)
		return err
	}
	if bigPing() == nil {
		t.Fatal("a 20 KB packet was accepted before the reload raised max_packet")
	}

	l := startLoad(port, 4)
	time.Sleep(300 * time.Millisecond)
	os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "[server]\n", "[server]\nmax_packet = \"32KiB\"\n", 1)), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("supervisor: reloaded", 20*time.Second)
	// Old workers exit after draining; new ones serve.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws := d.workers()
		if len(ws) == 2 && ws[0] != old[0] && ws[0] != old[1] && ws[1] != old[0] && ws[1] != old[1] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old workers %v still around: %v", old, ws)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	ok, failed, errs := l.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("during the reload: %d exchanges ok, %d failed (%v), want no failure", ok, failed, errs)
	}
	if err := bigPing(); err != nil {
		t.Fatalf("the new max_packet is not in effect: %v", err)
	}
	t.Logf("%d connect+ping exchanges during the reload, none failed", ok)

	// A broken config is rejected and the workers stay.
	before := d.workers()
	os.WriteFile(cfg, []byte(mustRead(t, cfg)+"\n[server]\nbogus = 1\n"), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("reload rejected", 10*time.Second)
	if after := d.workers(); len(after) != 2 || after[0] != before[0] && after[0] != before[1] {
		t.Fatalf("workers changed after a rejected reload: %v -> %v", before, after)
	}
	if err := ping(port); err != nil {
		t.Fatalf("not serving after a rejected reload: %v", err)
	}
	d.signal(syscall.SIGTERM)
	d.wait(15 * time.Second)
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestQuitAnswersEveryRequest(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "processes = 2")
	d := startWharfd(t, dir, "-c", cfg)
	d.waitWorkers(2, 10*time.Second)
	const n = 16
	var conns []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := fmt.Sprintf(`{"username":"user%d","password":"password%d"}`, i, i)
		c.Write(encode(5, []byte(body))) // register: a bcrypt hash each, tens of ms
		conns = append(conns, c)
	}
	d.signal(syscall.SIGQUIT)
	for i, c := range conns {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		code, body, err := readPacket(c)
		if err != nil || code != 5 || !strings.Contains(string(body), `"ok":true`) {
			t.Fatalf("request %d lost in the graceful stop: code %d %s %v", i, code, body, err)
		}
	}
	if err := d.wait(20 * time.Second); err != nil {
		t.Fatalf("exit after QUIT: %v", err)
	}
}

func TestBinaryUpgradeUnderLoad(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "processes = 2")
	d := startWharfd(t, dir, "-c", cfg)
	d.waitWorkers(2, 10*time.Second)
	pidFile := filepath.Join(dir, "wharfd.pid")
	l := startLoad(port, 4)
	time.Sleep(300 * time.Millisecond)
	d.signal(syscall.SIGUSR2)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("old master after the upgrade: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	ok, failed, errs := l.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("during the upgrade: %d ok, %d failed (%v)", ok, failed, errs)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal("no pid file after the upgrade")
	}
	newPid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if newPid == d.cmd.Process.Pid || newPid == 0 {
		t.Fatalf("pid file names %d, want the new master", newPid)
	}
	t.Cleanup(func() { // even when the test fails: the new master and its workers
		for _, pid := range childrenOf(newPid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		syscall.Kill(newPid, syscall.SIGKILL)
	})
	if _, err := os.Stat(pidFile + ".oldbin"); !os.IsNotExist(err) {
		t.Fatal("pid.oldbin left behind")
	}
	if len(childrenOf(newPid)) != 2 {
		t.Fatalf("new master has workers %v", childrenOf(newPid))
	}
	if err := ping(port); err != nil {
		t.Fatalf("new master not serving: %v", err)
	}
	t.Logf("%d exchanges during the upgrade, none failed", ok)
	syscall.Kill(newPid, syscall.SIGQUIT)
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(newPid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("new master did not stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDaemonPidFileAndStop(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "daemon = true\nprocesses = 1\n[log]\nfile = \"wharfd.log\"")
	cmd := exec.Command(wharfdBin, "-c", cfg)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput() // returns once the daemon serves
	if err != nil {
		t.Fatalf("daemon start: %v %s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(mustRead(t, filepath.Join(dir, "wharfd.pid"))))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	if pid == cmd.Process.Pid || syscall.Kill(pid, 0) != nil {
		t.Fatalf("pid file names %d: not a live detached daemon", pid)
	}
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Fatalf("daemon session %d, want its own (%d)", sid, pid)
	}
	if err := ping(port); err != nil {
		t.Fatal(err)
	}
	// A second wharfd on the same pid file refuses.
	second := exec.Command(wharfdBin, "-c", cfg)
	second.Dir = t.TempDir()
	out, err = second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second wharfd: %v %s", err, out)
	}
	if ents, _ := os.ReadDir(second.Dir); len(ents) != 0 {
		t.Fatalf("a refused wharfd created files: %v", ents)
	}
	out, err = exec.Command(wharfdBin, "-s", "stop", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("-s stop: %v %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("daemon still running after -s stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "wharfd.pid")); !os.IsNotExist(err) {
		t.Fatal("pid file left behind")
	}
	if !strings.Contains(mustRead(t, filepath.Join(dir, "wharfd.log")), "supervisor: stopped") {
		t.Fatal("daemon log has no clean stop")
	}
}
