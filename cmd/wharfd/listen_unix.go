package main

import (
	"fmt"
	"net"
	"os"
)

// dupListener returns an independent listener on the same socket: closing
// either leaves the other (and the socket) open.
func dupListener(ln net.Listener) (net.Listener, error) {
	f, err := ln.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		return nil, fmt.Errorf("wharfd: duplicate listener %s: %w", ln.Addr(), err)
	}
	defer f.Close()
	dup, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("wharfd: duplicate listener %s: %w", ln.Addr(), err)
	}
	return dup, nil
}
