package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"syscall"
)

// Error kinds returned by Kind. They are short, stable, lower-case words so
// that scripts can key on them in the JSON result.
const (
	KindRefused      = "refused"        // ECONNREFUSED: nothing listens, or the backlog overflowed
	KindReset        = "reset"          // ECONNRESET: the peer aborted the connection
	KindTimeout      = "timeout"        // a deadline or timeout passed (ETIMEDOUT included)
	KindEOF          = "eof"            // the peer closed the connection
	KindAddrNotAvail = "addr_not_avail" // EADDRNOTAVAIL: no local port left for this source/target pair
	KindAddrInUse    = "addr_in_use"    // EADDRINUSE
	KindEMFILE       = "emfile"         // EMFILE: the process's descriptor limit (RLIMIT_NOFILE)
	KindENFILE       = "enfile"         // ENFILE: the system-wide descriptor limit
	KindBrokenPipe   = "broken_pipe"    // EPIPE
	KindUnreachable  = "unreachable"    // ENETUNREACH, EHOSTUNREACH
	KindNoMemory     = "no_memory"      // ENOBUFS, ENOMEM: kernel socket memory
	KindCanceled     = "canceled"       // the run was stopped while the operation waited
	KindOther        = "other"          // anything else
)

// Kind classifies a network error for counting: one of the Kind constants.
// It looks through wrapping (net.OpError, os.SyscallError, fmt %w).
func Kind(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED:
			return KindRefused
		case syscall.ECONNRESET, syscall.ECONNABORTED:
			return KindReset
		case syscall.ETIMEDOUT:
			return KindTimeout
		case syscall.EADDRNOTAVAIL:
			return KindAddrNotAvail
		case syscall.EADDRINUSE:
			return KindAddrInUse
		case syscall.EMFILE:
			return KindEMFILE
		case syscall.ENFILE:
			return KindENFILE
		case syscall.EPIPE:
			return KindBrokenPipe
		case syscall.ENETUNREACH, syscall.EHOSTUNREACH:
			return KindUnreachable
		case syscall.ENOBUFS, syscall.ENOMEM:
			return KindNoMemory
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindEOF
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	}
	return KindOther
}

// Counts counts events by name (error kinds, close reasons, status codes).
// It is safe for concurrent use; the zero value is ready.
type Counts struct {
	mu sync.Mutex       // guards m
	m  map[string]int64 // name -> count
}

// Add adds n to name's count.
func (c *Counts) Add(name string, n int64) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]int64)
	}
	c.m[name] += n
	c.mu.Unlock()
}

// AddAll adds every count of m.
func (c *Counts) AddAll(m map[string]int64) {
	for k, v := range m {
		c.Add(k, v)
	}
}

// Snapshot returns a copy of the counts (a new map the caller owns; nil
// when nothing was counted).
func (c *Counts) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// Total returns the sum of all counts.
func (c *Counts) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t int64
	for _, v := range c.m {
		t += v
	}
	return t
}

// SortedKeys returns m's keys, largest count first (ties by name): the order
// summaries list them in.
func SortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
