//go:build race

package websocket

// raceEnabled: under the race detector sync.Pool drops a share of Puts on
// purpose, so allocation counts are meaningless and those tests skip.
const raceEnabled = true
