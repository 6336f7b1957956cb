package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"wharf/internal/statstest"
)

func filledStats() Stats {
	var s Stats
	statstest.Fill(&s)
	s.Kind = Goroutine
	return s
}

// TestStatsAdd: Add sums every field (a field added to Stats without its
// line in Add fails here) and keeps the kind.
func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*Stats).Add, "Kind")
}

// TestStatsJSON: Stats survive JSON, with the kind and close reasons by name.
func TestStatsJSON(t *testing.T) {
	statstest.CheckJSON(t, filledStats)
	s := Stats{Kind: Goroutine}
	s.ClosedBy[ReasonPeer] = 3
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"goroutine"`, `"peer":3`, `"local":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	if err := json.Unmarshal([]byte(`{"kind":"warp"}`), &s); err == nil {
		t.Error("unknown kind accepted")
	}
}
