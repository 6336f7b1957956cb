package loadgen

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// randomLatencies returns n latencies spread over five orders of magnitude.
func randomLatencies(seed uint64, n int) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(r.ExpFloat64()*float64(50*time.Microsecond)) + time.Duration(r.IntN(5))*time.Millisecond
	}
	return out
}

// Merging histograms, through Sparse and JSON as hold's children and parent
// do, gives exactly the histogram of all the values recorded in one place.
func TestMergeIsExact(t *testing.T) {
	tests := []struct {
		name  string
		parts int
		each  int
	}{
		{"one part", 1, 1000},
		{"two parts", 2, 5000},
		{"many small parts", 50, 20},
		{"empty parts", 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := NewHistogram()
			merged := NewHistogram()
			viaSparse := NewHistogram()
			for p := range tt.parts {
				part := NewHistogram()
				for _, d := range randomLatencies(uint64(p), tt.each) {
					part.Record(d)
					all.Record(d)
				}
				merged.Merge(part)
				b, err := json.Marshal(part.Sparse())
				if err != nil {
					t.Fatal(err)
				}
				var s Sparse
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
				if err := viaSparse.AddSparse(s); err != nil {
					t.Fatal(err)
				}
			}
			for name, h := range map[string]*Histogram{"Merge": merged, "AddSparse": viaSparse} {
				if !h.h.Equals(all.h) {
					t.Errorf("%s: merged histogram differs from the one recorded in one place", name)
				}
				if a, b := h.Summary(), all.Summary(); (a == nil) != (b == nil) || (a != nil && *a != *b) {
					t.Errorf("%s: summary %+v, want %+v", name, a, b)
				}
			}
		})
	}
}

func TestAddSparseRejectsBadBuckets(t *testing.T) {
	h := NewHistogram()
	h.Record(time.Millisecond)
	for _, s := range []Sparse{{{-1, 1}}, {{1 << 40, 1}}, {{5, -3}}, {{5, 1}, {1 << 30, 1}}} {
		if err := h.AddSparse(s); !errors.Is(err, ErrBadSparse) {
			t.Errorf("AddSparse(%v) = %v, want ErrBadSparse", s, err)
		}
	}
	if h.Count() != 1 {
		t.Errorf("count %d after rejected AddSparse, want 1 (unchanged)", h.Count())
	}
}

func TestSummary(t *testing.T) {
	h := NewHistogram()
	if h.Summary() != nil {
		t.Fatal("summary of an empty histogram is not nil")
	}
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	s := h.Summary()
	if s.Count != 1000 {
		t.Fatalf("count %d", s.Count)
	}
	// Three significant digits: within 0.2%, or 64 ns (the smallest
	// bucket) for small values.
	near := func(name string, got, want float64) {
		if d := got - want; (d < -want*0.002 || d > want*0.002) && (d < -0.064 || d > 0.064) {
			t.Errorf("%s = %gµs, want about %gµs", name, got, want)
		}
	}
	near("min", s.Min, 1)
	near("p50", s.P50, 500)
	near("p90", s.P90, 900)
	near("p99", s.P99, 990)
	near("p99.9", s.P999, 999)
	near("max", s.Max, 1000)
	near("mean", s.Mean, 500.5)
}

func TestRecordClamps(t *testing.T) {
	h := NewHistogram()
	h.Record(-time.Second)
	h.Record(0)
	h.Record(100 * time.Hour)
	if h.Count() != 3 {
		t.Fatalf("count %d, want 3: out-of-range values are clamped, not lost", h.Count())
	}
	if s := h.Summary(); s.Max < float64(time.Hour/time.Microsecond)*0.999 {
		t.Errorf("max %gµs, want the one-hour ceiling", s.Max)
	}
}

func TestRecorderShards(t *testing.T) {
	const shards, per = 4, 2000
	r := NewRecorder(shards)
	want := NewHistogram()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s := range shards + 2 { // more goroutines than shards: shards are shared
		wg.Go(func() {
			vals := randomLatencies(uint64(s), per)
			for _, d := range vals {
				r.Record(s, d)
			}
			mu.Lock()
			for _, d := range vals {
				want.Record(d)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if r.Count() != (shards+2)*per {
		t.Fatalf("Count %d, want %d", r.Count(), (shards+2)*per)
	}
	if !r.Snapshot().h.Equals(want.h) {
		t.Fatal("Snapshot differs from the values recorded")
	}
	if !r.Drain().h.Equals(want.h) {
		t.Fatal("Drain differs from the values recorded")
	}
	if d := r.Drain(); d.Count() != 0 {
		t.Fatalf("second Drain has %d values, want 0", d.Count())
	}
	if r.Count() != (shards+2)*per {
		t.Fatal("Drain changed Count")
	}
}

func TestRecordAllocs(t *testing.T) {
	r := NewRecorder(2)
	if n := testing.AllocsPerRun(1000, func() { r.Record(1, 123*time.Microsecond) }); n != 0 {
		t.Fatalf("Recorder.Record allocates %v times, want 0", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Record(0, time.Duration(i%100000)*time.Microsecond)
	}
}
