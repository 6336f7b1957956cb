package chat

import (
	"testing"

	"wharf/internal/statstest"
)

func filledStats() Stats {
	var s Stats
	statstest.Fill(&s)
	return s
}

// TestStatsAdd: Add sums every counter (a counter added to Stats without
// its line in Add fails here).
func TestStatsAdd(t *testing.T) { statstest.CheckAdd(t, filledStats, (*Stats).Add) }
