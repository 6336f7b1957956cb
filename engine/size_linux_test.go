package engine

import (
	"testing"
	"unsafe"
)

// The per-connection struct is most of what an idle connection costs the
// engine (SPEC §8: ≤ 0.5 KB RSS per idle connection). Rarely used state lives
// behind conn.slow and the inbound view on the loop; a field added here moves
// every idle connection into a bigger allocation size class.
func TestConnStructFitsBudget(t *testing.T) {
	const budget = 352 // a Go allocation size class
	if got := unsafe.Sizeof(conn{}); got > budget {
		t.Fatalf("engine conn struct is %d bytes, budget %d: move rarely used fields to connSlow", got, budget)
	}
}

// Every AsyncWrite copies a task into the loop's queue and out of it; the
// rare kinds carry their payload behind task.arg so that this stays small.
func TestTaskStructFitsBudget(t *testing.T) {
	const budget = 64
	if got := unsafe.Sizeof(task{}); got > budget {
		t.Fatalf("engine task struct is %d bytes, budget %d: carry rare payloads in task.arg", got, budget)
	}
}
