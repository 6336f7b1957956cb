//go:build linux

package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is a wharfd process started by a test.
type daemon struct {
	t   *testing.T
	cmd *exec.Cmd
	dir string
	log logFile
	ex  chan error
}

// logFile is where a wharfd under test writes stdout and stderr: a file, not
// a pipe, because a new master (binary upgrade) inherits it and would keep a
// pipe, and so the old master's Wait, open.
type logFile string

func (l logFile) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}

// startWharfd runs wharfd with args in dir and waits until it serves.
func startWharfd(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, dir: dir, log: logFile(filepath.Join(dir, "stdout.log")), ex: make(chan error, 1)}
	out, err := os.Create(string(d.log))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	d.cmd = exec.Command(wharfdBin, args...)
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.ex <- d.cmd.Wait() }()
	t.Cleanup(func() {
		for _, pid := range descendantsOf(d.cmd.Process.Pid) { // workers, and a new master's tree after an upgrade
			syscall.Kill(pid, syscall.SIGKILL)
		}
		d.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("wharfd log:\n%s", d.log.String())
		}
	})
	d.waitLog("supervisor: serving", 20*time.Second)
	return d
}

func (d *daemon) waitLog(s string, within time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(d.log.String(), s) {
		if time.Now().After(deadline) {
			d.t.Fatalf("wharfd never logged %q", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *daemon) countLog(s string) int { return strings.Count(d.log.String(), s) }

func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// wait waits for the master to exit and returns its error.
func (d *daemon) wait(within time.Duration) error {
	d.t.Helper()
	select {
	case err := <-d.ex:
		return err
	case <-time.After(within):
		d.t.Fatalf("wharfd did not exit within %v", within)
	}
	return nil
}

// workers lists the master's child processes.
func (d *daemon) workers() []int { return childrenOf(d.cmd.Process.Pid) }

func childrenOf(ppid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if p, _ := strconv.Atoi(f[1]); p == ppid && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// descendantsOf lists every process below pid.
func descendantsOf(pid int) []int {
	var out []int
	for _, c := range childrenOf(pid) {
		out = append(out, descendantsOf(c)...)
		out = append(out, c)
	}
	return out
}

// waitWorkers waits until the master has n live workers and returns them.
func (d *daemon) waitWorkers(n int, within time.Duration) []int {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ws := d.workers()
		if len(ws) == n {
			return ws
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("have %d workers %v, want %d", len(ws), ws, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ownerOf returns the pid among pids holding the server side of the TCP
// connection from client port cport to server port sport, by matching
// /proc/net/tcp's inode with the processes' descriptors.
func ownerOf(t *testing.T, pids []int, sport, cport int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	inode := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		lp, _ := strconv.ParseInt(f[1][strings.IndexByte(f[1], ':')+1:], 16, 32)
		rp, _ := strconv.ParseInt(f[2][strings.IndexByte(f[2], ':')+1:], 16, 32)
		if int(lp) == sport && int(rp) == cport {
			inode = f[9]
		}
	}
	if inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == want {
				return pid
			}
		}
	}
	return 0
}

// --- a minimal packet client ---

func encode(code uint16, body []byte) []byte {
	b := make([]byte, 8+len(body))
	binary.BigEndian.PutUint16(b, uint16(len(b)))
	binary.BigEndian.PutUint16(b[2:], code)
	if len(body) > 0 {
		binary.BigEndian.PutUint32(b[4:], crc32.ChecksumIEEE(body))
	}
	copy(b[8:], body)
	return b
}

func readPacket(r io.Reader) (uint16, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, int(binary.BigEndian.Uint16(h[:]))-8)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return binary.BigEndian.Uint16(h[2:]), body, nil
}

// ping dials port, pings once, and returns an error describing any failure.
func ping(port int) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	return pingOn(c)
}

// dialPinged opens a packet connection to port that has answered a ping;
// it is closed when the test ends.
func dialPinged(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := pingOn(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func pingOn(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(encode(0, nil)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	code, _, err := readPacket(c)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if code != 0 {
		return fmt.Errorf("ping answered with code %d", code)
	}
	return nil
}

func request(c net.Conn, code uint16, v any) (uint16, map[string]any, error) {
	body, _ := json.Marshal(v)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(encode(code, body)); err != nil {
		return 0, nil, err
	}
	for {
		got, b, err := readPacket(c)
		if err != nil {
			return 0, nil, err
		}
		if got == 8 {
			continue // a chat push
		}
		m := map[string]any{}
		json.Unmarshal(b, &m)
		return got, m, nil
	}
}

// load runs clients that connect, ping and disconnect in a loop until stop,
// and reports how many exchanges succeeded and the failures.
type load struct {
	ok, failed int
	errs       []string
	mu         sync.Mutex
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(port, clients int) *load {
	l := &load{stop: make(chan struct{})}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				err := ping(port)
				l.mu.Lock()
				if err != nil {
					l.failed++
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err.Error())
					}
				} else {
					l.ok++
				}
				l.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) finish() (ok, failed int, errs []string) {
	close(l.stop)
	l.wg.Wait()
	return l.ok, l.failed, l.errs
}

// TestSecondWharfdRefuses: a second wharfd started, in another directory,
// on an address of a running one refuses to start, naming the address,
// instead of splitting the traffic with it through SO_REUSEPORT; TCP and
// UDP alike. A reload of the first keeps working: it keeps its sockets.
func TestSecondWharfdRefuses(t *testing.T) {
	first := t.TempDir()
	tcpPort, udpPort := freePort(t), freePort(t)
	conf := func(dir string, tcp, udp int) string {
		path := filepath.Join(dir, "wharf.toml")
		body := fmt.Sprintf("pid_file = %q\n[server]\nlisten = \"127.0.0.1:%d\"\nstats_interval = \"0s\"\n"+
			"[http]\nlisten = []\n[admin]\nlisten = []\n[kcp]\nlisten = \"127.0.0.1:%d\"\n", filepath.Join(dir, "wharfd.pid"), tcp, udp)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	d := startWharfd(t, first, "-c", conf(first, tcpPort, udpPort))
	for _, tt := range []struct {
		name     string
		tcp, udp int
		want     string
	}{
		{"tcp", tcpPort, freePort(t), fmt.Sprintf("wharfd: tcp 127.0.0.1:%d: address already in use (is another wharfd running?)", tcpPort)},
		{"udp", freePort(t), udpPort, fmt.Sprintf("wharfd: udp 127.0.0.1:%d: address already in use (is another wharfd running?)", udpPort)},
	} {
		second := t.TempDir()
		cmd := exec.Command(wharfdBin, "-c", conf(second, tt.tcp, tt.udp))
		cmd.Dir = second
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(string(out), tt.want) {
			t.Fatalf("%s: second wharfd: %v %s, want it refused with %q", tt.name, err, out, tt.want)
		}
	}
	dialPinged(t, tcpPort) // the first one still serves, alone
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog("supervisor: reloaded", 20*time.Second)
	dialPinged(t, tcpPort)
}
