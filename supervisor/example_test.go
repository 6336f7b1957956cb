package supervisor_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"wharf/supervisor"
)

// webApp is an App: an HTTP server on the socket the master opened
// (Env.Listener), answering with the requests of every worker
// (Hub.Totals).
type webApp struct {
	srv      *http.Server
	requests atomic.Int64
}

// counter is the App's Stats: the master sums them over the workers.
type counter struct {
	Requests int64 `json:"requests"`
}

func (c *counter) Add(o supervisor.Stats) { c.Requests += o.(*counter).Requests }

func newWebApp(env *supervisor.Env) (supervisor.App, error) {
	ln, err := env.Listener("tcp://127.0.0.1:8081")
	if err != nil {
		return nil, err
	}
	a := &webApp{}
	a.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		var sum counter // every worker's requests, through the master
		if err := env.Hub.Totals(r.Context(), &sum); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "worker %d; %d requests on all workers\n", env.Slot, sum.Requests)
	})}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *webApp) Drain(ctx context.Context) error { return a.srv.Shutdown(ctx) }
func (a *webApp) Stop(ctx context.Context) error  { return a.srv.Close() }
func (a *webApp) Reopen() error                   { return nil }
func (a *webApp) Stats() supervisor.Stats         { return &counter{Requests: a.requests.Load()} }

// A program is both the master and its workers: the master runs Run, and
// starts the same program again for each worker, where IsWorker is true.
func ExampleRun() {
	if supervisor.IsWorker() {
		if err := supervisor.RunWorker(newWebApp); err != nil {
			log.Fatal(err)
		}
		return
	}
	err := supervisor.Run(supervisor.Config{
		Load: func() (supervisor.Spec, error) { // at start and on every HUP
			return supervisor.Spec{
				Processes:    2,
				Listen:       []supervisor.Addr{"tcp://127.0.0.1:8081"},
				DrainTimeout: 30 * time.Second,
			}, nil
		},
		NewApp:   newWebApp,
		NewStats: func() supervisor.Stats { return new(counter) },
		PidFile:  "/run/webd.pid",
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Signal is "nginx -s reload": it finds the master through its pid file.
func ExampleSignal() {
	pid, err := supervisor.Signal("/run/webd.pid", "reload")
	if err != nil {
		log.Fatal(err) // ErrNotRunning when no master holds the pid file
	}
	fmt.Println("reloading master", pid)
}

// Daemonize detaches the program; the starting process learns whether the
// daemon came up and exits with that.
func ExampleDaemonize() {
	if err := supervisor.CheckPidFile("/run/webd.pid"); err != nil {
		log.Fatal(err) // already running
	}
	parent, err := supervisor.Daemonize()
	if parent {
		if err != nil {
			log.Fatal(err)
		}
		os.Exit(0) // the daemon serves
	}
	err = supervisor.Run(supervisor.Config{
		Load:   func() (supervisor.Spec, error) { return supervisor.Spec{Listen: []supervisor.Addr{"tcp://:8081"}}, nil },
		NewApp: newWebApp,
		Ready:  supervisor.DaemonReady, // let the starting process go
	})
	if err != nil {
		supervisor.DaemonFailed(err)
	}
}
