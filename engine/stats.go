package engine

import (
	"sync/atomic"
	"time"
)

// NumCloseReasons is the length of Stats.ClosedBy.
const NumCloseReasons = int(numReasons)

// Stats is a snapshot of an Engine's counters. Counters only grow; Open and
// PendingWrites are gauges.
type Stats struct {
	Kind          Kind
	Loops         int
	Open          int64                   // connections open now
	Accepted      uint64                  // inbound connections accepted (not counting Rejected)
	Dialed        uint64                  // outbound connections established by Dial
	Rejected      uint64                  // connections closed at once by MaxConns
	ClosedBy      [NumCloseReasons]uint64 // closed connections by CloseReason
	BytesRead     uint64                  // bytes read from sockets
	BytesWritten  uint64                  // bytes written to sockets
	Reads         uint64                  // read system calls (Uring: receive completions) that returned data
	Writes        uint64                  // write/writev system calls (Uring: send and splice completions) that wrote data
	WriteBlocked  uint64                  // writes that hit EAGAIN and armed EPOLLOUT (Uring: sends the socket took only part of)
	Wakeups       uint64                  // loop wake-ups through eventfd (not counting spurious ones)
	Tasks         uint64                  // cross-goroutine tasks run by loops
	PendingWrites int64                   // AsyncWrite messages not yet written
	Overloaded    uint64                  // AsyncWrites refused by MaxPendingTotal
	Panics        uint64                  // recovered handler panics
	Polls         uint64                  // epoll_wait calls (Uring: loop turns) that returned events
	LoopBusy      time.Duration           // time loops spent handling events and tasks
	Slots         int64                   // connection slots allocated in loop tables (the connection pool's size)
	FreeSlots     int64                   // slots free for reuse
	Timers        int64                   // active timers in the loops' wheels
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
