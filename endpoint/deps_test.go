package endpoint

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeafPackage keeps endpoint a leaf: it imports nothing of wharf's, so
// config, engine, kcp, supervisor and client may all import it.
func TestLeafPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "wharf/") && dep != "wharf/endpoint" || strings.Contains(dep, ".") && !strings.HasPrefix(dep, "vendor/") {
			t.Errorf("endpoint depends on %s", dep)
		}
	}
}
