package logging

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// CloseOnSignal closes l when one of sigs arrives (default SIGTERM and
// SIGINT), then sends the same signal to the process again with the
// Logger's interest in it withdrawn, so a program that handles it nowhere
// else dies of it as it would have without this helper, with its logs
// written. It is optional and installs nothing until called; a daemon that
// handles signals itself (wharfd) calls Close from its own handler instead,
// since a second delivery would reach its handler too.
//
// stop withdraws the handler; it is idempotent and waits for the helper's
// goroutine to end.
func (l *Logger) CloseOnSignal(sigs ...os.Signal) (stop func()) {
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGTERM, os.Interrupt}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case sig := <-ch:
			signal.Stop(ch)
			l.Close()
			redeliver(sig)
		case <-quit:
			signal.Stop(ch)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}
