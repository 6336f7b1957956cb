package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOutOfDescriptorsShedsConnections runs a server with a descriptor
// limit of 64 in a child process and opens 150 connections to it: those
// beyond the limit must be closed at once (not left hanging in the accept
// queue), counted as rejected, while the admitted ones keep working.
func TestOutOfDescriptorsShedsConnections(t *testing.T) {
	forEachLoopKind(t, testOutOfDescriptorsShedsConnections)
}

func testOutOfDescriptorsShedsConnections(t *testing.T, k Kind) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestEMFILEServerProcess$")
	cmd.Env = append(os.Environ(), "WHARF_TEST_EMFILE="+k.String())
	stdout, _ := cmd.StdoutPipe()
	stdin, _ := cmd.StdinPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "addr ") {
		t.Fatalf("child: %q %v", line, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "addr "))

	var admitted []net.Conn
	shed := 0
	for range 150 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, 1)
		_, err = io.ReadFull(c, b)
		switch {
		case err == nil:
			admitted = append(admitted, c)
		case err == io.EOF || strings.Contains(err.Error(), "reset"):
			shed++
		default:
			t.Fatalf("connection neither served nor closed: %v (left hanging)", err)
		}
	}
	if shed == 0 || len(admitted) == 0 {
		t.Fatalf("admitted %d, shed %d: want both", len(admitted), shed)
	}
	for _, c := range admitted {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte("y"))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("an admitted connection broke: %v", err)
		}
	}
	fmt.Fprintln(stdin, "stats")
	line, _ = br.ReadString('\n')
	var rejected int
	fmt.Sscanf(line, "rejected %d", &rejected)
	if rejected != shed {
		t.Fatalf("Stats.Rejected = %d, shed %d", rejected, shed)
	}
}

// TestEMFILEServerProcess is the child of TestOutOfDescriptorsShedsConnections.
func TestEMFILEServerProcess(t *testing.T) {
	kind, _ := ParseKind(os.Getenv("WHARF_TEST_EMFILE"))
	if os.Getenv("WHARF_TEST_EMFILE") == "" {
		t.Skip("run by TestOutOfDescriptorsShedsConnections")
	}
	lim := unix.Rlimit{Cur: 64, Max: 64}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Kind: kind, Loops: 1, Logger: newDiscardLogger()}, newTH())
	if err != nil {
		t.Fatal(err)
	}
	if e.Config().Kind != kind {
		t.Fatalf("engine runs %v, want %v", e.Config().Kind, kind)
	}
	a, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	fmt.Printf("addr %s\n", a)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Printf("rejected %d\n", e.Stats().Rejected)
	}
	os.Exit(0)
}
