package supervisor

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if IsWorker() { // this test binary, started by a master in TestProcessWorkers
		if err := RunWorker(newMarkerApp); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// markerApp is the worker-process App of TestProcessWorkers: it accepts and
// closes connections, and appends a line to the file named by the
// configuration at every Reopen.
type markerApp struct {
	ln     net.Listener
	marker string
}

func newMarkerApp(env *Env) (App, error) {
	a := &markerApp{marker: string(env.Config)}
	for addr := range env.sockets {
		ln, err := env.Listener(string(addr))
		if err != nil {
			return nil, err
		}
		a.ln = ln
	}
	go func() {
		for {
			c, err := a.ln.Accept()
			if err != nil {
				return
			}
			// "w" and the worker's GOMAXPROCS, one digit.
			c.Write([]byte{'w', byte('0' + min(runtime.GOMAXPROCS(0), 9))})
			c.Close()
		}
	}()
	return a, nil
}

func (a *markerApp) Drain(context.Context) error { return a.ln.Close() }
func (a *markerApp) Stop(context.Context) error  { return a.ln.Close() }
func (a *markerApp) Stats() any                  { return map[string]int{"workers_up": 1} }
func (a *markerApp) Reopen() error {
	f, err := os.OpenFile(a.marker, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	f.WriteString("reopened\n")
	return f.Close()
}
