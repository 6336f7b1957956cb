package tlsconn

import (
	"os"
	"strings"
)

// KernelTLS reports whether the kernel offers kTLS (the "tls" TCP upper
// layer protocol is registered: the tls module is loaded or built in).
// wharf does not use it either way; see the package doc, "Kernel TLS".
func KernelTLS() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp")
	if err != nil {
		return false
	}
	for _, ulp := range strings.Fields(string(b)) {
		if ulp == "tls" {
			return true
		}
	}
	return false
}
