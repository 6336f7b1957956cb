package logging

import (
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
)

// Resolving a program counter with runtime.CallersFrames allocates and walks
// the function tables (about a microsecond); a process logs from a few
// thousand call sites at most. So the formatted "dir/file.go:line" is cached
// per PC in a direct-mapped table of atomic pointers: a hit is one atomic
// load and a compare, allocation-free; a miss (first use, or a collision
// that evicted the entry) resolves and stores a fresh entry. Entries are
// immutable once stored, so readers need no lock.
const sourceCacheSize = 4096 // power of two

type sourceEntry struct {
	pc  uintptr
	loc string // "dir/file.go:42"
}

var sourceCache [sourceCacheSize]atomic.Pointer[sourceEntry]

// sourceOf returns "dir/file.go:line" for a PC from slog.Record.PC, or ""
// for pc == 0.
func sourceOf(pc uintptr) string {
	if pc == 0 {
		return ""
	}
	slot := &sourceCache[(pc^pc>>12)&(sourceCacheSize-1)]
	if e := slot.Load(); e != nil && e.pc == pc {
		return e.loc
	}
	fs := runtime.CallersFrames([]uintptr{pc})
	f, _ := fs.Next()
	loc := shortPath(f.File) + ":" + strconv.Itoa(f.Line)
	slot.Store(&sourceEntry{pc: pc, loc: loc})
	return loc
}

// shortPath keeps the last directory and the file name: enough to find the
// file in a repository, short enough for every line (zap's TrimmedPath).
func shortPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p
	}
	j := strings.LastIndexByte(p[:i], '/')
	return p[j+1:]
}
