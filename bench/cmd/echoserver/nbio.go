package main

import (
	"github.com/lesismal/nbio"
)

func serveNbio(addr string, loops int) (func(), error) {
	e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{addr}, NPoller: loops})
	e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e.Stop, nil
}
