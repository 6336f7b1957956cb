package statstest_test

import (
	"fmt"

	"wharf/internal/statstest"
)

type counters struct {
	Reads, Writes uint64
	ByKind        [2]uint64
}

// Fill numbers every field; Leaves names them, for a test to set one at a
// time.
func ExampleLeaves() {
	var c counters
	statstest.Fill(&c)
	for _, l := range statstest.Leaves(&c) {
		fmt.Println(l.Path, l.Get())
	}
	// Output:
	// Reads 1
	// Writes 2
	// ByKind[0] 3
	// ByKind[1] 4
}
