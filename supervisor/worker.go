package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// App is what a worker serves. It is built by a NewApp function, already
// serving, and stopped by exactly one of Drain or Stop.
type App interface {
	// Drain stops accepting, lets clients leave until ctx is done, then
	// closes what is left and releases everything.
	Drain(ctx context.Context) error
	// Stop closes everything now (requests in flight get until ctx).
	Stop(ctx context.Context) error
	// Reopen reopens log files (after rotation).
	Reopen() error
	// Stats returns a snapshot of the App's statistics, or nil for none.
	// It is called every second in a worker process (to report to the
	// master) and at each Hub.Totals in-process, from goroutines of the
	// supervisor: it must be safe for concurrent use. The master sums the
	// snapshots of every worker (Hub.Totals); in a worker process the
	// snapshot travels as JSON and is decoded into Config.NewStats.
	Stats() Stats
}

// NewApp builds an App from env and starts serving; it returns once the App
// is ready. An error aborts the worker (and, on reload, the reload).
type NewApp func(env *Env) (App, error)

// Env is what a worker is built from.
type Env struct {
	// Config is the configuration the master loaded and validated.
	Config []byte
	// Slot is the worker's index (0..processes-1); Generation counts reloads.
	Slot, Generation int
	// Hub connects the worker to its siblings through the master.
	Hub *Hub

	sockets map[Addr]*socket
}

// Listener returns a listener for addr (as written in the config), which the
// caller owns and closes. The master keeps the socket itself open, so
// closing it stops only this worker from accepting.
func (e *Env) Listener(addr string) (net.Listener, error) {
	s, err := e.socket(addr)
	if err != nil {
		return nil, err
	}
	if s.ln == nil {
		return nil, fmt.Errorf("supervisor: %s is a packet socket", addr)
	}
	f, err := s.file()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}

// PacketConn returns the UDP socket for addr, owned by the caller.
func (e *Env) PacketConn(addr string) (net.PacketConn, error) {
	s, err := e.socket(addr)
	if err != nil {
		return nil, err
	}
	if s.pc == nil {
		return nil, fmt.Errorf("supervisor: %s is not a packet socket", addr)
	}
	f, err := s.file()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FilePacketConn(f)
}

func (e *Env) socket(addr string) (*socket, error) {
	s, ok := e.sockets[Addr(addr)]
	if !ok {
		return nil, fmt.Errorf("supervisor: no socket for %s (the master did not open it)", addr)
	}
	return s, nil
}

// Environment variables from the master to a worker process (and to a new
// master during a binary upgrade). They are internal: config.Load ignores
// WHARF_SUPERVISOR_*.
const (
	envWorker     = "WHARF_SUPERVISOR_WORKER"     // slot number: "this process is a worker"
	envGeneration = "WHARF_SUPERVISOR_GENERATION" // the worker's generation
	envSockets    = "WHARF_SUPERVISOR_SOCKETS"    // a worker's sockets, comma-separated, from fd 4
	envDrain      = "WHARF_SUPERVISOR_DRAIN"      // drain timeout for QUIT
	envInherit    = "WHARF_SUPERVISOR_INHERIT"    // a new master's sockets, "slot|addr", from fd 3
	envReadyFd    = "WHARF_SUPERVISOR_READY_FD"   // where a new master reports readiness
	envDaemon     = "WHARF_SUPERVISOR_DAEMONIZED" // already detached: do not detach again
	envNotifyFd   = "WHARF_SUPERVISOR_NOTIFY_FD"  // where a daemon reports startup to its parent
)

// IsWorker reports whether this process was started by a master as a worker.
func IsWorker() bool { return os.Getenv(envWorker) != "" }

// statsInterval is how often a worker pushes its stats to the master.
const statsInterval = time.Second

// RunWorker runs a worker process: it receives the configuration from the
// master, builds the App with newApp, reports ready, pushes stats, relays
// hub messages, and serves until a signal: QUIT drains (also when the master
// disappears), TERM or INT stops at once, USR1 reopens logs. It logs through
// slog.Default(), which newApp may set.
func RunWorker(newApp NewApp) error {
	slot, err := strconv.Atoi(os.Getenv(envWorker))
	if err != nil {
		return ErrNotWorker
	}
	gen, _ := strconv.Atoi(os.Getenv(envGeneration))
	drain, _ := time.ParseDuration(os.Getenv(envDrain))
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT, sigReopen, syscall.SIGHUP)
	defer signal.Stop(sigs)

	ctl, err := controlFromFile(os.NewFile(3, "control"))
	if err != nil {
		return fmt.Errorf("supervisor: worker control channel: %w", err)
	}
	defer ctl.close()
	env := &Env{Slot: slot, Generation: gen, sockets: map[Addr]*socket{}}
	if layout := os.Getenv(envSockets); layout != "" {
		for i, a := range strings.Split(layout, ",") {
			s, err := socketFromFd(Addr(a), 4+i)
			if err != nil {
				return err
			}
			defer s.close()
			env.sockets[Addr(a)] = s
		}
	}
	first, err := ctl.recv()
	if err != nil || first.Op != opConfig {
		return fmt.Errorf("supervisor: worker expected its configuration from the master, got %v: %v", first.Op, err)
	}
	env.Config = []byte(first.Config)
	link := newProcLink(ctl)
	hub := newHub(link)
	env.Hub = hub

	app, err := newApp(env)
	if err != nil {
		ctl.send(message{Op: opFailed, Err: err.Error()})
		return err
	}
	ctl.send(message{Op: opReady})
	log := slog.Default()
	log.Info("supervisor: worker ready", "slot", slot, "generation", gen, "pid", os.Getpid())

	masterGone := make(chan struct{})
	go func() { // reader: replies and relayed messages
		defer close(masterGone)
		for {
			m, err := ctl.recv()
			if err != nil {
				link.close()
				return
			}
			switch m.Op {
			case opTotals:
				link.reply(m)
			case opPublish:
				hub.deliver(m.Topic, fromJSONBytes(m.Data))
			}
		}
	}()
	stopStats := make(chan struct{})
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		t := time.NewTicker(statsInterval)
		defer t.Stop()
		for {
			pushStats(ctl, app, log)
			select {
			case <-stopStats:
				return
			case <-t.C:
			}
		}
	}()
	defer func() { close(stopStats); <-statsDone }()

	for {
		select {
		case <-masterGone:
			log.Warn("supervisor: master gone, draining", "slot", slot)
			return drainApp(app, drain)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGQUIT:
				log.Info("supervisor: worker draining", "slot", slot, "generation", gen, "timeout", drain)
				return drainApp(app, drain)
			case syscall.SIGTERM, syscall.SIGINT:
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := app.Stop(ctx)
				cancel()
				return err
			case sigReopen:
				if err := app.Reopen(); err != nil {
					log.Error("supervisor: worker reopen logs", "err", err)
				}
			case syscall.SIGHUP:
				// Reload is the master's job; a worker ignores HUP.
			}
		}
	}
}

func drainApp(app App, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return app.Drain(ctx)
}

// pushStats reports the App's Stats to the master.
func pushStats(ctl *control, app App, log *slog.Logger) {
	st := app.Stats()
	if st == nil {
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		log.Warn("supervisor: worker stats cannot be encoded", "err", err)
		return
	}
	ctl.send(message{Op: opStats, Data: b})
}
