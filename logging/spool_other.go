//go:build !linux

package logging

import "os"

// Spool files need Linux; elsewhere an async Logger keeps its ring in
// process memory only when no spool is configured.

func lockFile(*os.File) error               { return ErrSpoolUnsupported }
func reserveFile(*os.File, int64) error     { return ErrSpoolUnsupported }
func mapFile(*os.File, int) ([]byte, error) { return nil, ErrSpoolUnsupported }
func unmapFile([]byte) error                { return nil }
func fileID(os.FileInfo) (dev, ino uint64)  { return 0, 0 }
