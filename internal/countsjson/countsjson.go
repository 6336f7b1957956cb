// Package countsjson writes arrays of counters indexed by an enum as JSON
// objects keyed by the enum's names, {"idle":3,"flood":0}, and reads them
// back: the JSON form of engine.CloseCounts and server.KickCounts.
package countsjson

import (
	"encoding/json"
	"fmt"
)

// Marshal writes counts as an object: counts[i] under name(i).
func Marshal(counts []uint64, name func(i int) string) ([]byte, error) {
	m := make(map[string]uint64, len(counts))
	for i, n := range counts {
		m[name(i)] = n
	}
	return json.Marshal(m)
}

// Unmarshal reads an object Marshal wrote into counts: counts[i] from
// name(i), zero if absent. Names it does not know (from a newer program)
// are ignored.
func Unmarshal(b []byte, counts []uint64, name func(i int) string) error {
	var m map[string]uint64
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("counts by name: %w", err)
	}
	for i := range counts {
		counts[i] = m[name(i)]
	}
	return nil
}
