package pgtest

import "runtime"

// runtimeGoexit ends the calling goroutine, like testing.T.FailNow.
func runtimeGoexit() { runtime.Goexit() }
