package supervisor

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

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

// markerApp is the worker-process App of TestProcessWorkers: it answers
// each connection with three bytes and closes it, and appends a line to
// the file named by the configuration at every Reopen.
type markerApp struct {
	ln     net.Listener
	hub    *Hub
	marker string
}

func newMarkerApp(env *Env) (App, error) {
	a := &markerApp{marker: string(env.Config), hub: env.Hub}
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
			// "w", the worker's GOMAXPROCS and the workers in the
			// totals, one digit each ('x': no totals).
			workers := byte('x')
			var sum connStats
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if a.hub.Totals(ctx, &sum) == nil {
				workers = byte('0' + min(sum.Workers, 9))
			}
			cancel()
			c.Write([]byte{'w', byte('0' + min(runtime.GOMAXPROCS(0), 9)), workers})
			c.Close()
		}
	}()
	return a, nil
}

func (a *markerApp) Drain(context.Context) error { return a.ln.Close() }
func (a *markerApp) Stop(context.Context) error  { return a.ln.Close() }
func (a *markerApp) Stats() Stats                { return &connStats{Workers: 1} }
func (a *markerApp) Reopen() error {
	f, err := os.OpenFile(a.marker, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	f.WriteString("reopened\n")
	return f.Close()
}
