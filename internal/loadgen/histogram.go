package loadgen

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The range and precision every Histogram shares. Fixing them is what lets
// Sparse carry bucket indices instead of values: a Sparse made by one process
// (a hold child) is merged exactly by another (the parent) running the same
// binary.
const (
	histLowest  = 100              // ns; values below share the first bucket
	histHighest = int64(time.Hour) // ns; larger values are clamped to it
	histDigits  = 3                // significant decimal digits kept
)

// Histogram is a latency histogram (an HDR histogram: values up to one
// hour with three significant digits, and 64 ns resolution at the bottom;
// about 220 KiB). It is not safe for
// concurrent use: one goroutine owns it (see Recorder for shared recording).
type Histogram struct {
	h *hdrhistogram.Histogram
}

// NewHistogram returns an empty Histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(histLowest, histHighest, histDigits)}
}

// Record adds one latency. Values outside the range are clamped into it, so
// nothing recorded is ever lost from the count.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 1 {
		v = 1
	}
	if v > histHighest {
		v = histHighest
	}
	h.h.RecordValue(v) // cannot fail: v is in range
}

// Count returns the number of values recorded.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Merge adds every value of o to h. o is not modified.
func (h *Histogram) Merge(o *Histogram) { h.h.Merge(o.h) }

// Reset empties h.
func (h *Histogram) Reset() { h.h.Reset() }

// Sparse returns h's non-empty buckets, for sending to another process.
// The result is a new slice the caller owns.
func (h *Histogram) Sparse() Sparse {
	snap := h.h.Export()
	var s Sparse
	for i, c := range snap.Counts {
		if c != 0 {
			s = append(s, [2]int64{int64(i), c})
		}
	}
	return s
}

// AddSparse adds the buckets of s, made by Sparse on any Histogram, to h.
// It fails with ErrBadSparse, leaving h unchanged, if a bucket index is out
// of range or a count is negative.
func (h *Histogram) AddSparse(s Sparse) error {
	if len(s) == 0 {
		return nil
	}
	snap := h.h.Export()
	for _, b := range s {
		if b[0] < 0 || b[0] >= int64(len(snap.Counts)) || b[1] < 0 {
			return fmt.Errorf("%w: bucket %d count %d", ErrBadSparse, b[0], b[1])
		}
	}
	add := &hdrhistogram.Snapshot{
		LowestTrackableValue:  snap.LowestTrackableValue,
		HighestTrackableValue: snap.HighestTrackableValue,
		SignificantFigures:    snap.SignificantFigures,
		Counts:                make([]int64, len(snap.Counts)),
	}
	for _, b := range s {
		add.Counts[b[0]] += b[1]
	}
	h.h.Merge(hdrhistogram.Import(add))
	return nil
}

// Summary returns the count and percentiles of h; nil when h is empty.
func (h *Histogram) Summary() *Latency {
	n := h.h.TotalCount()
	if n == 0 {
		return nil
	}
	us := func(v int64) float64 { return float64(v) / 1e3 }
	return &Latency{
		Count: n,
		Min:   us(h.h.Min()),
		Mean:  h.h.Mean() / 1e3,
		P50:   us(h.h.ValueAtPercentile(50)),
		P90:   us(h.h.ValueAtPercentile(90)),
		P99:   us(h.h.ValueAtPercentile(99)),
		P999:  us(h.h.ValueAtPercentile(99.9)),
		Max:   us(h.h.Max()),
	}
}

// Sparse is a Histogram in transit: [bucket index, count] pairs of its
// non-empty buckets, in index order. Its JSON form is an array of two-number
// arrays. Indices mean something only to the same histogram layout (the
// same build of this package).
type Sparse [][2]int64

// Latency summarises a Histogram. Times are in microseconds; the percentiles
// are the highest value of their bucket, so Min <= P50 <= P90 <= P99 <= P999
// <= Max always holds.
type Latency struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

// Recorder is a Histogram that many goroutines record into: one shard each
// (an event loop, a connection goroutine), each shard with its own lock, so
// recorders on different shards never contend. Snapshot and Drain merge the
// shards.
type Recorder struct {
	shards []shard
	count  atomic.Int64 // values recorded, for progress lines without locking
}

type shard struct {
	mu sync.Mutex // guards h
	h  *Histogram
	_  [40]byte // keep neighbouring shards' locks off one cache line
}

// NewRecorder returns a Recorder with n shards (at least 1).
func NewRecorder(n int) *Recorder {
	n = max(n, 1)
	r := &Recorder{shards: make([]shard, n)}
	for i := range r.shards {
		r.shards[i].h = NewHistogram()
	}
	return r
}

// Record adds d to shard i (taken modulo the shard count). Any goroutine may
// call it; a goroutine that keeps to one shard never waits for another.
func (r *Recorder) Record(i int, d time.Duration) {
	s := &r.shards[uint(i)%uint(len(r.shards))]
	s.mu.Lock()
	s.h.Record(d)
	s.mu.Unlock()
	r.count.Add(1)
}

// Count returns the number of values recorded so far (not reduced by Drain).
func (r *Recorder) Count() int64 { return r.count.Load() }

// Snapshot returns a new Histogram holding every value recorded so far.
func (r *Recorder) Snapshot() *Histogram {
	out := NewHistogram()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		s.mu.Unlock()
	}
	return out
}

// Drain returns a new Histogram holding the values recorded since the last
// Drain, and empties the shards.
func (r *Recorder) Drain() *Histogram {
	out := NewHistogram()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		s.h.Reset()
		s.mu.Unlock()
	}
	return out
}
