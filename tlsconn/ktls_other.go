//go:build !linux

package tlsconn

// KernelTLS reports whether the kernel offers kTLS: only Linux does.
func KernelTLS() bool { return false }
