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

func TestKCPStatsJSON(t *testing.T) { statstest.CheckJSON(t, filledStats) }
