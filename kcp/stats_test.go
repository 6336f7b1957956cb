package kcp

import (
	"testing"

	"wharf/internal/statstest"
)

func filledStats() KCPStats {
	var s KCPStats
	statstest.Fill(&s)
	return s
}

// TestKCPStatsAdd: Add sums every field (a field added to KCPStats without
// its line in Add fails here).
func TestKCPStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*KCPStats).Add)
}

// TestKCPStatsAddTransport: two transports of one process read the same
// process-wide counters: the sum keeps the later reading instead of
// adding them.
func TestKCPStatsAddTransport(t *testing.T) {
	a := KCPStats{Sessions: 2, DatagramsIn: 10, ProcessRetransSegs: 5, ProcessLostSegs: 7}
	b := KCPStats{Sessions: 3, DatagramsIn: 1, ProcessRetransSegs: 6, ProcessLostSegs: 7}
	a.AddTransport(b)
	want := KCPStats{Sessions: 5, DatagramsIn: 11, ProcessRetransSegs: 6, ProcessLostSegs: 7}
	if a != want {
		t.Fatalf("AddTransport = %+v, want %+v", a, want)
	}
}

func TestKCPStatsJSON(t *testing.T) { statstest.CheckJSON(t, filledStats) }
