package main

import (
	"context"
	"net"
	"net/http"
	"time"

	gorilla "github.com/gorilla/websocket"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"

	"github.com/lesismal/nbio/nbhttp"

	"wharf/engine"
	"wharf/httpd"
	"wharf/websocket"
)

// The WebSocket echo servers: each echoes every message back with its
// type, at /ws, without compression. wharf's run on httpd's engine with
// -loops event loops; the others in their usual setup on the same port.

// wharfWSEcho echoes on the loop (LoopWrite: one copy into the outbound
// buffer, written with the other replies of the same read).
var wharfWSEcho = websocket.HandlerFuncs{
	Message: func(c *websocket.Conn, typ websocket.MessageType, data []byte) { c.LoopWrite(typ, data) },
}

// serveWharfWS serves the echo through httpd's native API (adapter false)
// or a net/http handler on httpd's adapter that upgrades back onto the
// loop (adapter true).
func serveWharfWS(addr string, loops int, adapter bool) (func(), error) {
	ws, err := websocket.NewServer(websocket.Config{}, wharfWSEcho)
	if err != nil {
		return nil, err
	}
	cfg := httpd.Config{Engine: engine.Config{Loops: loops}}
	if adapter {
		mux := http.NewServeMux()
		mux.Handle("/ws", ws)
		cfg.Handler = mux
	} else {
		cfg.Native = ws
	}
	srv, err := httpd.New(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := srv.Listen("tcp://" + addr); err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// serveNbioWS is nbio's nbhttp/websocket with its defaults (messages are
// handled on nbio's executor, payloads released after the handler).
func serveNbioWS(addr string, loops int) (func(), error) {
	up := nbws.NewUpgrader()
	up.OnMessage(func(c *nbws.Conn, typ nbws.MessageType, data []byte) { c.WriteMessage(typ, data) })
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { up.Upgrade(w, r, nil) })
	e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{addr}, Handler: mux, NPoller: loops, ReleaseWebsocketPayload: true})
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e.Stop, nil
}

// serveGorillaWS is gorilla/websocket on net/http: a goroutine per
// connection reading messages and writing the echo.
func serveGorillaWS(addr string, _ int) (func(), error) {
	up := gorilla.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(typ, p) != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// gwsEcho is lxzan/gws's handler: echo, then give the message back.
type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	c.WriteMessage(m.Opcode, m.Bytes())
	m.Close()
}

// serveGWS is lxzan/gws's own server (it reads the handshake with its
// pooled reader; a goroutine per connection runs ReadLoop).
func serveGWS(addr string, _ int) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := gws.NewServer(gwsEcho{}, &gws.ServerOption{})
	go s.RunListener(ln)
	// RunListener retries a closed listener forever: the process exits
	// instead of stopping it.
	return func() {}, nil
}
