package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"wharf/engine"
	"wharf/server"
)

// codeEcho is the request the packet benchmarks send: the server replies
// with the same body from a worker goroutine, so a packet comes back
// byte-identical (same length, same CRC) and the load generator can count
// it like raw echo.
const codeEcho = 10

// serveWharfPacket is the full message server: decoder, CRC, flood guard
// (off for benchmarks), router, worker pool, send queue.
func serveWharfPacket(addr string, loops int) (func(), error) {
	rt := server.NewRouter()
	rt.HandleFunc(codeEcho, func(r *server.Request) { r.Reply(r.Body) })
	s, err := server.New(server.Config{
		FloodCount:    -1,
		IdleTimeout:   -1,
		StatsInterval: -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engine:        engine.Config{Loops: loops},
	}, rt)
	if err != nil {
		return nil, err
	}
	if _, err := s.Listen("tcp://" + addr); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reportStats("wharf-packet", s.Engine().Stats(), s.Stats().PacketsIn)
		s.Shutdown(ctx)
	}, nil
}
