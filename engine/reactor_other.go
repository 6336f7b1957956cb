//go:build !linux

package engine

import "runtime"

// newReactor falls back to the goroutine backend where epoll is not
// available, and says so once: Config, Stats and Kind report Goroutine from
// then on.
func newReactor(e *Engine) (backend, error) {
	e.cfg.Kind = Goroutine
	e.cfg.Logger.Info("engine: the reactor backend needs epoll (Linux); using the goroutine backend", "goos", runtime.GOOS)
	return newGoroutineEngine(e), nil
}
