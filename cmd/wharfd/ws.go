package main

import (
	"context"
	"time"

	"wharf/engine"
	"wharf/httpd"
	"wharf/packet"
	"wharf/server"
	"wharf/websocket"
)

// newPacketWebSocket is the packet protocol over WebSocket (packet/SPEC.md,
// "WebSocket"): a stream Server that serves the message server's Handler
// on WebSocket connections of subprotocol wharf.packet.v1, mounted at /ws
// on the public HTTP listener.
func newPacketWebSocket(srv *server.Server) (*websocket.Server, error) {
	return websocket.NewStreamServer(websocket.Config{
		Subprotocols:       []string{packet.WebSocketSubprotocol},
		RequireSubprotocol: true,
		// A message holds whole packets: room for the largest, framed.
		MaxMessageSize: int64(srv.Config().MaxPacket),
	}, srv.Handler())
}

// wsTransport is the message server's view of its WebSocket connections,
// which live on the HTTP server's engine: they count as their own
// transport ("ws") in Online, Stats, Broadcast and Shutdown.
type wsTransport struct {
	ws   *websocket.Server
	http []*httpd.Server // the servers mounting it: http and https
}

var _ server.Transport = wsTransport{}

func (t wsTransport) Name() string { return "ws" }

// Each visits the WebSocket connections of the packet protocol, serialised
// with their callbacks (on the HTTP engine's loops).
func (t wsTransport) Each(fn func(c engine.Conn)) {
	for _, h := range t.http {
		h.Engine().Each(func(ec engine.Conn) {
			if c := websocket.StreamOf(ec); c != nil {
				fn(c)
			}
		})
	}
}

// StopAccepting is the HTTP server's: new upgrades end with its listeners.
func (t wsTransport) StopAccepting() {}

// Shutdown closes every WebSocket connection with a close frame after its
// queued packets, and waits until they are gone or ctx ends.
func (t wsTransport) Shutdown(ctx context.Context) error {
	t.Each(func(c engine.Conn) { c.Close() })
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for t.ws.Stats().Open > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Stats reports the WebSocket connections in the engine's shape: open and
// accepted connections (handshakes), refused handshakes, messages and
// payload bytes each way. Close reasons are counted by the message server
// (kicks) and by the HTTP engine, which carries the connections.
func (t wsTransport) Stats() engine.Stats {
	w := t.ws.Stats()
	e := t.http[0].Engine()
	return engine.Stats{
		Kind:         e.Config().Kind,
		Loops:        e.Stats().Loops,
		Open:         w.Open,
		Accepted:     w.Upgrades,
		Rejected:     w.Refused,
		Reads:        w.MessagesIn,
		Writes:       w.MessagesOut,
		BytesRead:    w.BytesIn,
		BytesWritten: w.BytesOut,
	}
}
