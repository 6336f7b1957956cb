package engine

import (
	"fmt"
	"sync/atomic"
	"time"

	"wharf/internal/countsjson"
)

// NumCloseReasons is the length of Stats.ClosedBy.
const NumCloseReasons = int(numReasons)

// Stats is a snapshot of an Engine's counters. Counters only grow; Open,
// PendingWrites, Slots, FreeSlots and Timers are gauges. Its JSON form (for
// /api/stats, and between wharfd's worker processes) uses the tags below;
// Add sums the snapshots of several engines.
type Stats struct {
	Kind          Kind          `json:"kind"`           // the backend (JSON "reactor", "uring" or "goroutine")
	Loops         int           `json:"loops"`          // event loops (1 for the goroutine backend)
	Open          int64         `json:"open"`           // connections open now
	Accepted      uint64        `json:"accepted"`       // inbound connections accepted (not counting Rejected)
	Dialed        uint64        `json:"dialed"`         // outbound connections established by Dial
	Rejected      uint64        `json:"rejected"`       // connections closed at once by MaxConns
	ClosedBy      CloseCounts   `json:"closed_by"`      // closed connections by CloseReason
	BytesRead     uint64        `json:"bytes_read"`     // bytes read from sockets
	BytesWritten  uint64        `json:"bytes_written"`  // bytes written to sockets
	Reads         uint64        `json:"reads"`          // read system calls (Uring: receive completions) that returned data
	Writes        uint64        `json:"writes"`         // write/writev system calls (Uring: send and splice completions) that wrote data
	WriteBlocked  uint64        `json:"write_blocked"`  // writes that hit EAGAIN and armed EPOLLOUT (Uring: sends the socket took only part of)
	Wakeups       uint64        `json:"wakeups"`        // loop wake-ups through eventfd (not counting spurious ones)
	Tasks         uint64        `json:"tasks"`          // cross-goroutine tasks run by loops
	PendingWrites int64         `json:"pending_writes"` // AsyncWrite messages not yet written
	Overloaded    uint64        `json:"overloaded"`     // AsyncWrites refused by MaxPendingTotal
	Panics        uint64        `json:"panics"`         // recovered handler panics
	Polls         uint64        `json:"polls"`          // epoll_wait calls (Uring: loop turns) that returned events
	LoopBusy      time.Duration `json:"loop_busy_ns"`   // time loops spent handling events and tasks
	Slots         int64         `json:"slots"`          // connection slots allocated in loop tables (the connection pool's size)
	FreeSlots     int64         `json:"free_slots"`     // slots free for reuse
	Timers        int64         `json:"timers"`         // active timers in the loops' wheels
}

// Add adds o, another engine's snapshot, into s: every counter and gauge
// is summed, Loops too. Kind stays s's, unless s has no loops yet (a zero
// Stats being summed into), which takes o's.
func (s *Stats) Add(o Stats) {
	if s.Loops == 0 {
		s.Kind = o.Kind
	}
	s.Loops += o.Loops
	s.Open += o.Open
	s.Accepted += o.Accepted
	s.Dialed += o.Dialed
	s.Rejected += o.Rejected
	s.ClosedBy.Add(o.ClosedBy)
	s.BytesRead += o.BytesRead
	s.BytesWritten += o.BytesWritten
	s.Reads += o.Reads
	s.Writes += o.Writes
	s.WriteBlocked += o.WriteBlocked
	s.Wakeups += o.Wakeups
	s.Tasks += o.Tasks
	s.PendingWrites += o.PendingWrites
	s.Overloaded += o.Overloaded
	s.Panics += o.Panics
	s.Polls += o.Polls
	s.LoopBusy += o.LoopBusy
	s.Slots += o.Slots
	s.FreeSlots += o.FreeSlots
	s.Timers += o.Timers
}

// CloseCounts counts closed connections by CloseReason (the index). In
// JSON it is an object keyed by the reasons' names: {"local":3,"peer":9}.
type CloseCounts [NumCloseReasons]uint64

// Add adds o into c, reason by reason.
func (c *CloseCounts) Add(o CloseCounts) {
	for i := range c {
		c[i] += o[i]
	}
}

// MarshalJSON writes the counts as an object keyed by reason name.
func (c CloseCounts) MarshalJSON() ([]byte, error) { return countsjson.Marshal(c[:], reasonName) }

// UnmarshalJSON reads the object MarshalJSON writes. Names it does not know
// (from a newer program) are ignored.
func (c *CloseCounts) UnmarshalJSON(b []byte) error {
	if err := countsjson.Unmarshal(b, c[:], reasonName); err != nil {
		return fmt.Errorf("engine: close reasons: %w", err)
	}
	return nil
}

func reasonName(i int) string { return CloseReason(i).String() }

// MarshalText writes the kind's name, so Stats.Kind reads "reactor" in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a name ParseKind accepts.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Closed is the total of ClosedBy.
func (s *Stats) Closed() uint64 {
	var n uint64
	for _, v := range s.ClosedBy {
		n += v
	}
	return n
}

// counters is one loop's (or the goroutine engine's) counter block. Fields
// are atomics so Stats can read them from any goroutine; on the reactor each
// block has exactly one writer, its loop, so the adds never contend.
type counters struct {
	accepted, dialed, rejected    atomic.Uint64
	closedBy                      [NumCloseReasons]atomic.Uint64
	bytesRead, bytesWritten       atomic.Uint64
	reads, writes, writeBlocked   atomic.Uint64
	wakeups, tasks, panics, polls atomic.Uint64
	busyNanos                     atomic.Int64
	_                             [64]byte // keep loops' blocks on separate cache lines
}

func (c *counters) addTo(s *Stats) {
	s.Accepted += c.accepted.Load()
	s.Dialed += c.dialed.Load()
	s.Rejected += c.rejected.Load()
	for i := range c.closedBy {
		s.ClosedBy[i] += c.closedBy[i].Load()
	}
	s.BytesRead += c.bytesRead.Load()
	s.BytesWritten += c.bytesWritten.Load()
	s.Reads += c.reads.Load()
	s.Writes += c.writes.Load()
	s.WriteBlocked += c.writeBlocked.Load()
	s.Wakeups += c.wakeups.Load()
	s.Tasks += c.tasks.Load()
	s.Panics += c.panics.Load()
	s.Polls += c.polls.Load()
	s.LoopBusy += time.Duration(c.busyNanos.Load())
}
