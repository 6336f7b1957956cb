package main

import (
	"errors"
	"net"
	"time"
)

// serveNet is the standard library baseline: a goroutine per connection.
func serveNet(addr string, _ int) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go serveEchoConns(ln)
	return func() { ln.Close() }, nil
}

// serveEchoConns echoes every connection ln accepts on a goroutine of its
// own, until ln is closed.
func serveEchoConns(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 16<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// waitListening waits until addr accepts connections or errc reports.
func waitListening(addr string, errc <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("server exited")
			}
			return err
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("server did not start listening")
}
