package httpd

import (
	"errors"
	"net/http"
	"runtime"
	"time"

	"wharf/engine"
)

// Protocol serves a connection after an HTTP upgrade (101 Switching
// Protocols): once the switch is made, the connection's engine callbacks go
// to it instead of the HTTP server, on the connection's event loop and
// under the engine.Handler rules (never concurrently, never blocking). The
// HTTP server keeps nothing of the connection: an upgraded connection costs
// the engine's connection and what the Protocol holds.
type Protocol interface {
	// OnUpgrade runs once, on the loop, right after the 101 response is
	// queued; bytes the client sent after its request go to OnData next.
	OnUpgrade(c engine.Conn)
	// OnData runs when inbound bytes are buffered, as engine.Handler.OnData.
	OnData(c engine.Conn) error
	// OnClose runs once when the connection closes, as engine.Handler.OnClose.
	OnClose(c engine.Conn, err error)
	// OnShutdown runs when the server shuts down gracefully: the protocol
	// says goodbye (a WebSocket close frame, say). The connection is closed
	// after Shutdown's grace period whatever it does.
	OnShutdown(c engine.Conn)
}

// ErrNotUpgradable is returned by Upgrade for a ResponseWriter that does
// not come from this package's server.
var ErrNotUpgradable = errors.New("httpd: Upgrade needs a ResponseWriter of an httpd server")

// Upgrade switches the connection of a NativeHandler's request to p once
// the handler returns: resp, the complete 101 response (copied, so it may
// live on the caller's stack), is written instead of the usual response,
// then p takes the connection over on the loop. Nothing set with
// SetStatusCode, SetHeader or Write is sent.
func (c *RequestCtx) Upgrade(resp []byte, p Protocol) {
	c.upResp = append(c.upResp[:0], resp...)
	c.upProto = p
	c.status = http.StatusSwitchingProtocols
}

// HeaderValues calls fn with the value of every field line named name
// (case-insensitive), in order; comma-separated values are passed whole.
// The slices are valid until the handler returns.
func (c *RequestCtx) HeaderValues(name string, fn func(value []byte)) { c.req.Values(name, fn) }

// ProtoMinor is the request's minor HTTP version: 0 for HTTP/1.0, 1 for 1.1.
func (c *RequestCtx) ProtoMinor() int { return c.req.Minor }

// switchProtocol hands the connection to p (on the loop, after the 101
// response was queued). The hconn is forgotten: the engine connection's
// context becomes the Protocol, which connHandler forwards the callbacks
// to.
func (c *hconn) switchProtocol(p Protocol) {
	ec := c.ec
	c.phase = phaseHijacked
	c.stalled = true // OnData's loop stops: what follows is the new protocol's
	ec.SetDeadline(time.Time{})
	ec.SetContext(p)
	p.OnUpgrade(ec)
	if ec.InboundBuffered() > 0 {
		if err := p.OnData(ec); err != nil {
			ec.Close()
		}
	}
}

// Upgrade switches the connection of a net/http handler's request to p:
// resp (the complete 101 response, copied) is written after the responses
// to earlier pipelined requests, then p takes the connection over on its
// event loop, as for RequestCtx.Upgrade. The
// handler must not use w after Upgrade returns nil; it should return.
// Upgrade fails if the response has started, if requests pipelined after
// this one are being served, or with ErrNotUpgradable for a
// ResponseWriter of another server (wrappers that implement
// Unwrap() http.ResponseWriter are looked through).
func Upgrade(w http.ResponseWriter, resp []byte, p Protocol) error {
	for {
		switch x := w.(type) {
		case *response:
			return x.upgrade(resp, p)
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return ErrNotUpgradable
		}
	}
}

func (w *response) upgrade(resp []byte, p Protocol) error {
	if err := w.takeOver(); err != nil {
		return err
	}
	resp = append([]byte(nil), resp...)
	c := w.c
	if err := c.ec.Run(func(ec engine.Conn) {
		if c.closed {
			return
		}
		ec.Write(resp)
		c.switchProtocol(p)
	}); err != nil {
		return ErrConnClosed
	}
	return nil
}

// takeOver claims the connection for the handler (Hijack, Upgrade): no
// more pipelined requests are parsed, and the responses before this one
// go out first.
func (w *response) takeOver() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.headerSent {
		return errors.New("httpd: Hijack after the response started")
	}
	c0 := w.c
	c0.hijacking.Store(true) // no more pipelined requests are parsed
	for c0.parsing.Load() {
		runtime.Gosched()
	}
	if c0.dispatched.Load() > w.j.seq+1 {
		c0.hijacking.Store(false)
		return errPipelinedHijack
	}
	if !w.c.ord.waitTurn(w) { // the responses before it go out first
		return ErrConnClosed
	}
	w.hijacked = true
	return nil
}

// upgradedData and upgradedClose forward the callbacks of an upgraded
// connection (its context is the Protocol).
func upgradedData(ec engine.Conn) error {
	if p, ok := ec.Context().(Protocol); ok {
		return p.OnData(ec)
	}
	ec.Discard(-1)
	return nil
}

func upgradedClose(ec engine.Conn, err error) {
	if p, ok := ec.Context().(Protocol); ok {
		p.OnClose(ec, err)
	}
}

// upgradedShutdown tells an upgraded connection the server is stopping.
func upgradedShutdown(ec engine.Conn) {
	if p, ok := ec.Context().(Protocol); ok {
		p.OnShutdown(ec)
	}
}
