package websocket

import (
	"testing"
	"unsafe"
)

// An idle WebSocket connection costs its engine connection plus these
// structs (the HTTP connection is gone after the upgrade, and message
// buffers are pooled): keep them within their allocation size classes.
func TestConnStructsFitBudget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   uintptr
		budget uintptr // a Go allocation size class
	}{
		{"Conn", unsafe.Sizeof(Conn{}), 160},
	} {
		if tc.size > tc.budget {
			t.Errorf("%s is %d bytes, budget %d", tc.name, tc.size, tc.budget)
		}
	}
}
