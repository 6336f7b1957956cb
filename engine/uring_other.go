//go:build !linux

package engine

// resolveKind turns Uring and Auto into Reactor where there is no io_uring
// (the reactor itself then falls back to the goroutine backend).
func resolveKind(cfg *Config) {
	switch cfg.Kind {
	case Uring:
		cfg.Logger.Warn("engine: io_uring is Linux only, using the reactor backend")
		cfg.Kind = Reactor
	case Auto:
		cfg.Kind = Reactor
	}
}
