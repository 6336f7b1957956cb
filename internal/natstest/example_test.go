package natstest_test

import (
	"testing"

	"wharf/internal/natstest"
)

// A test that needs a NATS server starts one of its own; it is stopped
// when the test ends.
func ExampleStart() {
	var t *testing.T // the test's *testing.T
	ns := natstest.Start(t)
	_ = ns.URL() // nats://127.0.0.1:PORT, for cluster.Config.URL or a wharfd node's [cluster] broker
}
