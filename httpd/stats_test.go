package httpd

import (
	"testing"

	"wharf/internal/statstest"
)

func filledStats() Stats {
	s := Stats{ByStatus: map[int]uint64{200: 0, 404: 0}}
	statstest.Fill(&s)
	return s
}

// TestStatsAdd: Add sums every field, status codes one by one (a field
// added to Stats without its line in Add fails here).
func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*Stats).Add, "Kind")
}

func TestStatsJSON(t *testing.T) { statstest.CheckJSON(t, filledStats) }
