//go:build race

package h1

// raceEnabled: the race detector's instrumentation allocates, so
// allocation counts are meaningless and those tests skip.
const raceEnabled = true
