package main

import (
	"context"

	"github.com/cloudwego/netpoll"
)

func serveNetpoll(addr string, loops int) (func(), error) {
	if err := netpoll.Configure(netpoll.Config{PollerNum: loops}); err != nil {
		return nil, err
	}
	ln, err := netpoll.CreateListener("tcp", addr)
	if err != nil {
		return nil, err
	}
	el, err := netpoll.NewEventLoop(func(ctx context.Context, c netpoll.Connection) error {
		r, w := c.Reader(), c.Writer()
		buf, err := r.Next(r.Len())
		if err != nil {
			return err
		}
		w.WriteBinary(buf)
		err = w.Flush()
		r.Release()
		return err
	})
	if err != nil {
		return nil, err
	}
	go el.Serve(ln)
	return func() { el.Shutdown(context.Background()) }, nil
}
