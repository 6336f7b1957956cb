package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"wharf/internal/pgtest"
)

// wharfdBin is the binary under test, built once by TestMain.
var wharfdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wharfd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wharfdBin = filepath.Join(dir, "wharfd")
	build := exec.Command("go", "build", "-o", wharfdBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build wharfd:", err)
		os.Exit(1)
	}
	// kcp-go starts scheduler goroutines when it is loaded and never stops
	// them: IgnoreCurrent, taken before the tests, leaves those out.
	ignore := goleak.IgnoreCurrent()
	code := pgtest.Wrap(m).Run() // TestThreeNodeCluster's PostgreSQL
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(ignore); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
