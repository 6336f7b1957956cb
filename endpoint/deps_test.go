package endpoint

import (
	"go/build"
	"strings"
	"testing"
)

// TestLeafPackage keeps endpoint a leaf that config, engine, kcp,
// supervisor and client may all import: its files import the standard
// library only (whose packages have no dot in their first element).
func TestLeafPackage(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); first == "wharf" || strings.Contains(first, ".") {
			t.Errorf("endpoint imports %s", imp)
		}
	}
}
