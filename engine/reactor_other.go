//go:build !linux

package engine

// newReactor falls back to the goroutine engine where epoll is not available.
func newReactor(e *Engine) (backend, error) {
	e.cfg.Kind = Goroutine
	return newGoroutineEngine(e), nil
}
