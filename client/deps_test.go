package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the client light for the programs that embed it:
// the standard library, wharf/packet and wharf/endpoint only (the wharf server appears in
// tests, never in the package).
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	// Non-standard packages only: the standard library has dotted paths
	// too (crypto/internal/entropy/v1.0.0, under crypto/tls).
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "wharf/packet" && dep != "wharf/endpoint" && dep != "wharf/client" {
			t.Errorf("client depends on %s", dep)
		}
	}
}
