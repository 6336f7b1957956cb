package logging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSlot describes one slot of a hand-made spool.
type fakeSlot struct {
	state, flags uint32
	seq          uint64
	data         string
	wrote        uint32
	writtenAt    int64 // with state writing: offset in the log the writer noted
}

// makeSpool builds a spool image of 4 slots of 4096 bytes.
func makeSpool(t *testing.T, logPath string, slots []fakeSlot) []byte {
	t.Helper()
	const n, size = 4, 4096
	mem := make([]byte, spoolSize(n, size))
	initSpool(mem, n, size)
	var dev, ino uint64
	if fi, err := os.Stat(logPath); err == nil {
		dev, ino = fileID(fi)
	}
	for i, s := range slots {
		h := mem[fileHeaderSize+i*slotHeaderSize:]
		binary.LittleEndian.PutUint32(h[hState:], s.state)
		binary.LittleEndian.PutUint32(h[hLen:], uint32(len(s.data)))
		binary.LittleEndian.PutUint64(h[hSeq:], s.seq)
		binary.LittleEndian.PutUint32(h[hFlags:], s.flags)
		binary.LittleEndian.PutUint32(h[hWritten:], s.wrote)
		binary.LittleEndian.PutUint64(h[hOff:], uint64(s.writtenAt))
		binary.LittleEndian.PutUint64(h[hDev:], dev)
		binary.LittleEndian.PutUint64(h[hIno:], ino)
		copy(mem[spoolDataOff(n)+i*size:], s.data)
	}
	return mem
}

func TestSpoolRecovery(t *testing.T) {
	tests := []struct {
		name      string
		logBefore string // the log file's content before New
		slots     []fakeSlot
		want      string // the log's records after New (the recovery report line excluded)
	}{
		{
			name: "sequence order, free and reserved slots skipped",
			slots: []fakeSlot{
				{state: slotFilling, seq: 9, data: "c\n"},
				{state: slotPending, seq: 7, data: "a\n"},
				{state: slotFree, seq: 8, data: "free\n"},
				{state: slotPending, seq: 8, data: "b\n"},
			},
			want: "a\nb\nc\n",
		},
		{
			name:  "reserved slots hold a record whose Handle never returned",
			slots: []fakeSlot{{state: slotReserved, seq: 1, data: "half"}, {state: slotPending, seq: 3, data: "x\n"}},
			want:  "x\n",
		},
		{
			name: "a record over several slots needs all of them",
			slots: []fakeSlot{
				{state: slotPending, seq: 1, flags: flagCont, data: "lo"},
				{state: slotPending, seq: 2, data: "ng\n"},
				{state: slotPending, seq: 5, flags: flagCont, data: "cut"}, // seq 6 never made it
			},
			want: "long\n",
		},
		{
			name:      "duplicate window closed: the writer had written the slot",
			logBefore: "old\nw1\nw2\n",
			slots:     []fakeSlot{{state: slotWriting, seq: 1, data: "w1\nw2\n", writtenAt: 4}, {state: slotFilling, seq: 2, data: "n\n"}},
			want:      "old\nw1\nw2\nn\n",
		},
		{
			name:      "writing slot whose bytes did not arrive is written",
			logBefore: "old\n",
			slots:     []fakeSlot{{state: slotWriting, seq: 1, data: "w1\n", writtenAt: 4}},
			want:      "old\nw1\n",
		},
		{
			name:      "partly written slot: only the rest is written",
			logBefore: "old\nw1\n",
			slots:     []fakeSlot{{state: slotPending, seq: 1, data: "w1\nw2\n", wrote: 3}},
			want:      "old\nw1\nw2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "app.log")
			if err := os.WriteFile(logPath, []byte(tt.logBefore), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logPath+".spool", makeSpool(t, logPath, tt.slots), 0o600); err != nil {
				t.Fatal(err)
			}
			l := mustNew(t, Config{File: logPath, Async: true, Buffers: 2, BufferSize: 4096})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, line := range fileLines(t, logPath) {
				if !strings.Contains(line, "recovered records") {
					got.WriteString(line + "\n")
				}
			}
			if got.String() != tt.want {
				t.Fatalf("log holds %q, want %q", got.String(), tt.want)
			}
		})
	}
}

// TestSyncModeRecoversSpool: a process that switched to sync mode still
// writes what its async predecessor left, and removes the spool.
func TestSyncModeRecoversSpool(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath+".spool", makeSpool(t, logPath, []fakeSlot{{state: slotPending, seq: 1, data: "left\n"}}), 0o600)
	l := mustNew(t, Config{File: logPath})
	l.Logger().Info("new")
	l.Close()
	got := fileLines(t, logPath)
	if len(got) != 3 || got[0] != "left" || !strings.Contains(got[1], "records=1 bytes=5") || !strings.HasSuffix(got[2], "]-new") {
		t.Fatalf("got %q", got)
	}
	if _, err := os.Stat(logPath + ".spool"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spool not removed: %v", err)
	}
}

func TestSpoolCorruptMovedAside(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath+".spool", []byte(strings.Repeat("not a spool ", 100)), 0o600)
	l := mustNew(t, Config{File: logPath, Async: true})
	l.Close()
	if b, err := os.ReadFile(logPath + ".spool.corrupt"); err != nil || !bytes.HasPrefix(b, []byte("not a spool")) {
		t.Fatalf("corrupt spool not kept aside: %v", err)
	}
	if got := fileLines(t, logPath); len(got) != 1 || !strings.Contains(got[0], "moved aside") {
		t.Fatalf("got %q", got)
	}
}

func TestSpoolBusy(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{File: filepath.Join(dir, "app.log"), Async: true}
	l := mustNew(t, cfg)
	defer l.Close()
	if _, err := New(cfg); !errors.Is(err, ErrSpoolBusy) {
		t.Fatalf("second New on the same spool = %v, want ErrSpoolBusy", err)
	}
	// A sync Logger on the same file leaves the live spool alone.
	l2 := mustNew(t, Config{File: cfg.File})
	l2.Close()
	if _, err := os.Stat(cfg.File + ".spool"); err != nil {
		t.Fatalf("live spool touched: %v", err)
	}
}

// TestStderrAsyncHasNoSpool documents the rule for stderr output.
func TestStderrAsyncHasNoSpool(t *testing.T) {
	l := mustNew(t, Config{Async: true})
	defer l.Close()
	if l.spool != nil {
		t.Fatal("stderr output got a spool file")
	}
	dir := t.TempDir()
	l2 := mustNew(t, Config{Async: true, SpoolFile: filepath.Join(dir, "err.spool")})
	defer l2.Close()
	if l2.spool == nil {
		t.Fatal("explicit SpoolFile ignored")
	}
}
