//go:build !linux

package logging

import (
	"fmt"
	"os"
	"runtime"
)

// Spool files need Linux (a shared file mapping whose blocks fallocate has
// reserved, so a store never faults on a full disk); elsewhere no spool is
// configured by default, an async Logger keeps its ring in process memory,
// and an explicit SpoolFile is refused.

// SpoolSupported reports whether this platform has spool files
// (Config.SpoolFile): Linux only.
const SpoolSupported = false

var errSpoolHere = fmt.Errorf("%w (GOOS %s)", ErrSpoolUnsupported, runtime.GOOS)

func lockFile(*os.File) error               { return errSpoolHere }
func reserveFile(*os.File, int64) error     { return errSpoolHere }
func mapFile(*os.File, int) ([]byte, error) { return nil, errSpoolHere }
func unmapFile([]byte) error                { return nil }
func fileID(os.FileInfo) (dev, ino uint64)  { return 0, 0 }
