package server

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"wharf/engine"
	"wharf/internal/statstest"
)

// filledStats is a Stats with every number set, two transports and a
// histogram of two buckets.
func filledStats() Stats {
	s := Stats{
		HandlerLatency: HistogramSnapshot{Bounds: make([]float64, 2), Counts: make([]uint64, 3)},
		Transports:     map[string]engine.Stats{"tcp": {}, "kcp": {}},
	}
	statstest.Fill(&s)
	return s
}

// TestStatsAdd: Add sums every field (a field added to Stats without its
// line in Add fails here), keeping the histogram's bounds and the engines'
// kinds.
func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*Stats).Add, "Bounds", "Kind")
}

func TestStatsJSON(t *testing.T) {
	statstest.CheckJSON(t, filledStats)
	b, _ := json.Marshal(Stats{Kicks: KickCounts{KickFlood: 2}})
	var m map[string]any
	json.Unmarshal(b, &m)
	if k, _ := m["kicks"].(map[string]any); k["flood"] != 2.0 || k["idle"] != 0.0 {
		t.Errorf("kicks in JSON = %v, want an object by reason name", m["kicks"])
	}
}

// TestHistogramAdd merges snapshots with the same and with other bounds.
func TestHistogramAdd(t *testing.T) {
	tests := []struct {
		name       string
		s, o, want HistogramSnapshot
	}{
		{
			name: "into empty",
			o:    HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{1, 2, 3}, Sum: time.Second, Count: 3},
			want: HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{1, 2, 3}, Sum: time.Second, Count: 3},
		},
		{
			name: "same bounds",
			s:    HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{1, 1, 1}, Sum: time.Second, Count: 1},
			o:    HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{0, 2, 4}, Sum: time.Second, Count: 4},
			want: HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{1, 3, 5}, Sum: 2 * time.Second, Count: 5},
		},
		{
			// o's buckets (<=0.5: 1, <=1.5: 2, <=9: 1, +Inf: 1) land in
			// s's first bucket at least as high: <=1, <=2, +Inf, +Inf.
			name: "other bounds",
			s:    HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{0, 0, 0}},
			o:    HistogramSnapshot{Bounds: []float64{0.5, 1.5, 9}, Counts: []uint64{1, 3, 4, 5}, Count: 5},
			want: HistogramSnapshot{Bounds: []float64{1, 2}, Counts: []uint64{1, 3, 5}, Count: 5},
		},
		{
			name: "empty other",
			s:    HistogramSnapshot{Bounds: []float64{1}, Counts: []uint64{1, 1}, Count: 1},
			want: HistogramSnapshot{Bounds: []float64{1}, Counts: []uint64{1, 1}, Count: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Add(tt.o)
			if !reflect.DeepEqual(tt.s, tt.want) {
				t.Errorf("Add = %+v, want %+v", tt.s, tt.want)
			}
		})
	}
}
