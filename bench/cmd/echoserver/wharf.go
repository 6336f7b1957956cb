package main

import (
	"context"
	"log"
	"time"

	"wharf/engine"
)

// echoMsgSize is the message size -stats assumes for the raw echo: the
// 64-byte messages of the 100-connection scenarios.
const echoMsgSize = 64

type wharfEcho struct{ engine.BaseHandler }

func (wharfEcho) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(p)
	return err
}

// serveWharf runs the raw echo on the engine configured by cfg (Loops is
// filled in from the -loops flag).
func serveWharf(addr string, loops int, cfg engine.Config) (func(), error) {
	return serveWharfHandler(addr, loops, cfg, wharfEcho{})
}

// serveWharfHandler serves h on the engine configured by cfg.
func serveWharfHandler(addr string, loops int, cfg engine.Config, h engine.Handler) (func(), error) {
	cfg.Loops = loops
	e, err := engine.New(cfg, h)
	if err != nil {
		return nil, err
	}
	if e.Config().Kind != cfg.Kind {
		log.Printf("echoserver: asked for the %s backend, running %s", cfg.Kind, e.Config().Kind)
	}
	if _, err := e.Listen("tcp://" + addr); err != nil {
		return nil, err
	}
	if err := e.Start(); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reportStats("wharf", e.Stats(), e.Stats().BytesRead/echoMsgSize)
		e.Shutdown(ctx)
	}, nil
}
