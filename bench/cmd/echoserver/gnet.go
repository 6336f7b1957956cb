package main

import (
	"context"

	"github.com/panjf2000/gnet/v2"
)

type gnetEcho struct {
	gnet.BuiltinEventEngine
	eng gnet.Engine
}

func (h *gnetEcho) OnBoot(e gnet.Engine) gnet.Action { h.eng = e; return gnet.None }

func (h *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func serveGnet(addr string, loops int) (func(), error) {
	h := &gnetEcho{}
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(h, "tcp://"+addr, gnet.WithNumEventLoop(loops), gnet.WithMulticore(loops > 1), gnet.WithReusePort(false))
	}()
	return func() { h.eng.Stop(context.Background()) }, waitListening(addr, errc)
}
