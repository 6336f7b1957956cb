package engine

import "net"

// newListener opens a listening socket. With reusePort it sets SO_REUSEPORT
// where the platform balances connections over such sockets (Linux; see
// listenReuse), so that more sockets can bind the same address (one per
// loop).
func newListener(network, address string, reusePort bool) (*listener, error) {
	ln, err := listenReuse(network, address, reusePort)
	if err != nil {
		return nil, err
	}
	l := &listener{network: network, addr: ln.Addr(), ln: ln}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
		l.unlink = address
	}
	return l, nil
}
