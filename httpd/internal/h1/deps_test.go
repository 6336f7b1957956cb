package h1

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps h1 a leaf: it imports nothing of wharf's
// and nothing outside the standard library (not even net/http), so the
// HTTP server, clients and tools may all import it.
func TestStandardLibraryOnly(t *testing.T) {
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
		switch {
		case dep == "wharf/httpd/internal/h1":
		case strings.HasPrefix(dep, "wharf/"), strings.Contains(dep, ".") && !strings.HasPrefix(dep, "vendor/"):
			t.Errorf("h1 depends on %s", dep)
		case dep == "net/http":
			t.Errorf("h1 depends on net/http")
		}
	}
}
