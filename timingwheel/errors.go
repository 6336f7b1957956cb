package timingwheel

import "errors"

// Errors used as panic values. The wheel has no error returns: every
// misuse below is a programming error in the caller, found the first time
// the code runs, so it panics at the call that made the mistake instead of
// corrupting the wheel and failing somewhere far away. Tests can match them
// with errors.Is on the recovered value.
var (
	// ErrInvalidTick is the panic value of New when Config.Tick is
	// negative (zero selects DefaultTick). The panic wraps it with the bad
	// value.
	ErrInvalidTick = errors.New("timingwheel: Config.Tick must be positive")

	// ErrNoCallback is the panic value of Schedule, Add and Reset for a
	// Timer whose callback is nil: call Timer.Init first.
	ErrNoCallback = errors.New("timingwheel: timer has no callback (call Init first)")

	// ErrForeignTimer is the panic value of Schedule, Add, Reset and Stop
	// for a Timer that is active on a different Wheel. A Timer belongs to
	// at most one Wheel at a time; stop it on its own wheel first.
	ErrForeignTimer = errors.New("timingwheel: timer is active on another wheel")

	// ErrReentrantAdvance is the panic value of Advance and AdvanceClock
	// when called from inside a timer callback: the outer Advance is still
	// walking the wheel.
	ErrReentrantAdvance = errors.New("timingwheel: Advance called from a timer callback")
)
