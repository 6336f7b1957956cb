package engine

import (
	"log/slog"
	"runtime/debug"
)

// recovered logs and counts a panic recovered from a callback (what names
// it: "OnClose", "write callback", ...) and returns the stack.
func recovered(log *slog.Logger, ctr *counters, what string, conn uint64, p any) []byte {
	stack := debug.Stack()
	ctr.panics.Add(1)
	log.Error("engine: panic in "+what, "conn", conn, "panic", p, "stack", string(stack))
	return stack
}
