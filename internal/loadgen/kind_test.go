package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"syscall"
	"testing"
)

func TestKind(t *testing.T) {
	op := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	tests := []struct {
		err  error
		want string
	}{
		{op(syscall.ECONNREFUSED), KindRefused},
		{fmt.Errorf("engine: dial: %w", op(syscall.ECONNREFUSED)), KindRefused},
		{op(syscall.ECONNRESET), KindReset},
		{op(syscall.ETIMEDOUT), KindTimeout},
		{op(syscall.EADDRNOTAVAIL), KindAddrNotAvail},
		{op(syscall.EADDRINUSE), KindAddrInUse},
		{op(syscall.EMFILE), KindEMFILE},
		{op(syscall.ENFILE), KindENFILE},
		{op(syscall.EPIPE), KindBrokenPipe},
		{op(syscall.ENETUNREACH), KindUnreachable},
		{op(syscall.ENOBUFS), KindNoMemory},
		{io.EOF, KindEOF},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), KindEOF},
		{os.ErrDeadlineExceeded, KindTimeout},
		{context.DeadlineExceeded, KindTimeout},
		{context.Canceled, KindCanceled},
		{errors.New("something else"), KindOther},
	}
	for _, tt := range tests {
		if got := Kind(tt.err); got != tt.want {
			t.Errorf("Kind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// A real refused dial and a real dial timeout classify as such.
func TestKindOfRealErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.Dial("tcp", addr)
	if got := Kind(err); got != KindRefused {
		t.Errorf("dial to a closed port: Kind(%v) = %q, want refused", err, got)
	}
}

func TestCounts(t *testing.T) {
	var c Counts
	if c.Snapshot() != nil || c.Total() != 0 {
		t.Fatal("zero Counts is not empty")
	}
	c.Add("reset", 2)
	c.Add("eof", 1)
	c.AddAll(map[string]int64{"reset": 3, "timeout": 5})
	want := map[string]int64{"reset": 5, "eof": 1, "timeout": 5}
	snap := c.Snapshot()
	if !reflect.DeepEqual(snap, want) || c.Total() != 11 {
		t.Fatalf("Snapshot %v Total %d, want %v 11", snap, c.Total(), want)
	}
	snap["reset"] = 100
	if c.Snapshot()["reset"] != 5 {
		t.Fatal("Snapshot is not a copy")
	}
	if got := SortedKeys(want); !reflect.DeepEqual(got, []string{"reset", "timeout", "eof"}) {
		t.Errorf("SortedKeys = %v, want largest first, ties by name", got)
	}
}
