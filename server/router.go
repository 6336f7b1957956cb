package server

import (
	"fmt"

	"wharf/packet"
)

// Handler serves one request. It runs on a worker goroutine, never on an
// event loop, so it may block (on a database, say) without stalling other
// connections; requests of one connection are handled one at a time, in the
// order they arrived.
type Handler interface {
	ServePacket(r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// ServePacket calls f(r).
func (f HandlerFunc) ServePacket(r *Request) { f(r) }

// Router maps message codes to handlers. Register every handler before the
// server starts; lookups are then read-only and safe from any goroutine.
// Codes 0 (ping, answered by the server itself) and 1 (error replies) are
// reserved. A request with an unregistered code is answered with a code 1
// error.
type Router struct {
	low  [256]Handler // codes below 256, the common case, without a map lookup
	high map[uint16]Handler
}

// NewRouter returns an empty router.
func NewRouter() *Router { return &Router{high: map[uint16]Handler{}} }

// Handle registers h for code. It panics on a reserved or duplicate code,
// like http.ServeMux does for duplicate patterns: both are programming errors.
func (rt *Router) Handle(code uint16, h Handler) {
	if code == packet.CodePing || code == packet.CodeError {
		panic(fmt.Sprintf("server: code %d is reserved", code))
	}
	if h == nil {
		panic("server: nil handler")
	}
	if rt.Lookup(code) != nil {
		panic(fmt.Sprintf("server: code %d registered twice", code))
	}
	if code < 256 {
		rt.low[code] = h
	} else {
		rt.high[code] = h
	}
}

// HandleFunc registers a function for code.
func (rt *Router) HandleFunc(code uint16, f func(r *Request)) { rt.Handle(code, HandlerFunc(f)) }

// Lookup returns the handler for code, or nil.
func (rt *Router) Lookup(code uint16) Handler {
	if code < 256 {
		return rt.low[code]
	}
	return rt.high[code]
}
