package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tests in this file run wharfd's command line on every platform; the
// ones that start masters and workers and signal them read /proc
// (proc_test.go, wharfd_test.go: Linux only).

func TestCheckConfigAndSignals(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, freePort(t), "")
	out, err := exec.Command(wharfdBin, "-t", "-c", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is ok") {
		t.Fatalf("-t on a good config: %v %s", err, out)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("processes = 1\n[server]\nidle_timeout = \"sixty\"\n"), 0o644)
	out, err = exec.Command(wharfdBin, "-t", "-c", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad.toml:3:1: server.idle_timeout: invalid duration") {
		t.Fatalf("-t on a bad config: %v %s", err, out)
	}
	out, err = exec.Command(wharfdBin, "-s", "reload", "-c", good).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not running") {
		t.Fatalf("-s without a master: %v %s", err, out)
	}
	out, err = exec.Command(wharfdBin, "-print-config", "-c", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "max_pending_per_conn   = 400") {
		t.Fatalf("-print-config: %v %s", err, out)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeConfig writes wharf.toml in dir with the packet server on port.
func writeConfig(t *testing.T, dir string, port int, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`pid_file = %q
drain_timeout = "2s"
%s
[server]
listen = ["tcp://127.0.0.1:%d"]
stats_interval = "0s"
[http]
listen = []
[admin]
listen = []
[kcp]
listen = []
`, filepath.Join(dir, "wharfd.pid"), extra, port)
	path := filepath.Join(dir, "wharf.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
