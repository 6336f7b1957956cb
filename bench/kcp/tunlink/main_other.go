//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// tunlink joins Linux network namespaces through TUN devices (setns(2));
// elsewhere it only says so.
func main() {
	fmt.Fprintf(os.Stderr, "tunlink: needs Linux network namespaces and TUN devices, not available on %s\n", runtime.GOOS)
	os.Exit(2)
}
