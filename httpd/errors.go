package httpd

import "errors"

var (
	// ErrServerClosed is returned by Serve after Shutdown or Close, and by
	// Start or Serve called after them.
	ErrServerClosed = errors.New("httpd: server closed")
	// ErrStarted is returned by Start or Serve on a server already started.
	ErrStarted = errors.New("httpd: already started")
	// ErrHijacked is returned by ResponseWriter methods after Hijack.
	ErrHijacked = errors.New("httpd: connection has been hijacked")
	// ErrBodyNotAllowed is returned by Write when the status does not allow
	// a body (1xx, 204, 304). A HEAD response drops its body silently, like
	// net/http.
	ErrBodyNotAllowed = errors.New("httpd: request method or response status code does not allow body")
	// ErrNoHandler is returned by New when neither Handler nor Native is set.
	ErrNoHandler       = errors.New("httpd: no handler (set Config.Handler or Config.Native)")
	errPipelinedHijack = errors.New("httpd: cannot hijack: pipelined requests after this one are being served")
	// ErrConnClosed is returned by writes after the client went away.
	ErrConnClosed = errors.New("httpd: connection closed")
)
