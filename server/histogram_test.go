package server

import (
	"testing"
	"time"
)

// TestHistogramZeroValue checks that a Histogram needs no constructor: the
// zero value observes and snapshots.
func TestHistogramZeroValue(t *testing.T) {
	var h Histogram
	if s := h.Snapshot(); s.Count != 0 || len(s.Counts) != len(HistogramBuckets)+1 || s.Counts[len(s.Counts)-1] != 0 {
		t.Fatalf("empty snapshot = %+v", s)
	}
	h.Observe(300 * time.Microsecond) // in the 0.0005 bucket
	h.Observe(20 * time.Second)       // +Inf
	s := h.Snapshot()
	if s.Count != 2 || s.Sum != 300*time.Microsecond+20*time.Second {
		t.Fatalf("snapshot = %+v; want 2 observations", s)
	}
	if s.Counts[1] != 0 || s.Counts[2] != 1 || s.Counts[len(s.Counts)-1] != 2 {
		t.Errorf("cumulative counts = %v; want 0 up to 0.00025, 1 from 0.0005, 2 at +Inf", s.Counts)
	}
	if q := s.Quantile(0.5); q != 0.0005 {
		t.Errorf("median = %v; want 0.0005", q)
	}
}
