package tlsconn

import (
	"testing"

	"wharf/internal/statstest"
)

func filledStats() Stats {
	var s Stats
	statstest.Fill(&s)
	return s
}

func TestStatsAdd(t *testing.T) { statstest.CheckAdd(t, filledStats, (*Stats).Add) }

func TestStatsJSON(t *testing.T) { statstest.CheckJSON(t, filledStats) }

// TestFailuresEach: Each and Total visit every reason once, by name.
func TestFailuresEach(t *testing.T) {
	f := filledStats().Failed
	var sum uint64
	names := map[string]bool{}
	f.Each(func(reason string, n uint64) { sum += n; names[reason] = true })
	if sum != f.Total() || len(names) != int(numFailures) {
		t.Fatalf("Each: sum %d over %d names, Total %d, %d reasons", sum, len(names), f.Total(), numFailures)
	}
	for r := range numFailures {
		if !names[r.String()] {
			t.Errorf("Each never named %s", r)
		}
	}
}
