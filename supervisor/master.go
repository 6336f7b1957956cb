package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Spec is what the master needs from a configuration.
type Spec struct {
	// Processes is the number of worker processes; 0 serves in the master's
	// own process (no fork).
	Processes int
	// Listen lists every socket the workers serve.
	Listen []Addr
	// DrainTimeout bounds how long old workers serve after a reload,
	// upgrade or graceful stop.
	DrainTimeout time.Duration
	// Config is handed to every worker of the generation.
	Config []byte
}

// Config configures Run.
type Config struct {
	// Load reads and validates the configuration, at start and on every
	// HUP. A failed reload keeps the running workers.
	Load func() (Spec, error)
	// NewApp builds the App; the master calls it itself with processes = 0,
	// worker processes call it through RunWorker.
	NewApp NewApp
	// NewStats returns a new zero Stats of the type the App's Stats
	// returns (a pointer). The master decodes the Stats that worker
	// processes report into such values and sums them into another for
	// Hub.Totals. Without it, Hub.Totals fails in worker processes; with
	// processes = 0 it is not needed.
	NewStats func() Stats
	// PidFile is written at start and removed at exit ("" for none).
	PidFile string
	// Logger receives the master's log.
	Logger *slog.Logger
	// ReopenLog reopens the master's own log file on USR1 (optional).
	ReopenLog func() error
	// RotateLog, if set, is called every RotateCheck; when it reports a
	// rotation, worker processes are told to reopen (USR1). It lets one
	// process rotate a log file that all of them write to.
	RotateLog func() (bool, error)
	// RotateCheck is how often RotateLog runs; default 10s.
	RotateCheck time.Duration
	// Executable is the program started for workers and for a binary
	// upgrade. Default: the running program's path, resolved at start, so an
	// upgrade runs the binary now at that path.
	Executable string
	// Args are the arguments of that program (default os.Args[1:]).
	Args []string
	// Ready is called once the first generation is serving (daemon mode
	// uses it to let the starting terminal go).
	Ready func()
	// ReadyTimeout bounds a new generation's startup; default 30s.
	ReadyTimeout time.Duration
	// Signals, when set, replaces the process's signal delivery (tests).
	Signals <-chan os.Signal
}

// master is Run's state; fields are owned by the loop goroutine unless noted.
type master struct {
	cfg     Config
	log     *slog.Logger
	spec    Spec
	sockets *socketSet
	gen     int
	current []*worker // by slot, the generation being served

	mu   sync.Mutex // guards live (read by totals and publish on other goroutines)
	live map[*worker]bool

	events   chan func() // work posted to the loop by worker goroutines
	backoff  map[int]time.Duration
	upgrade  *upgradeState
	stopping bool
}

// Run is the master. It opens the sockets, starts the workers and keeps
// them running until a signal stops it:
//
//	HUP   reload: load the configuration again; if it is valid, start a new
//	      generation of workers on the same sockets, and once every new
//	      worker is ready tell the old ones to drain (a bad configuration is
//	      rejected and the old workers keep serving)
//	QUIT  graceful stop: every worker drains (DrainTimeout), then exit
//	TERM  fast stop (also INT)
//	USR1  reopen log files, in the master and every worker
//	USR2  binary upgrade: start a new master from the executable on disk,
//	      hand it every socket, and once it is serving, drain and exit
//
// A worker that exits unexpectedly is logged and restarted, with a growing
// delay while it keeps dying young.
func Run(cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.RotateCheck == 0 {
		cfg.RotateCheck = 10 * time.Second
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("supervisor: find own executable: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.Args == nil {
		cfg.Args = os.Args[1:]
	}
	spec, err := cfg.Load()
	if err != nil {
		return err
	}
	m := &master{cfg: cfg, log: cfg.Logger, spec: spec, live: map[*worker]bool{},
		events: make(chan func(), 64), backoff: map[int]time.Duration{}}

	inherited := os.Getenv(envInherit)
	if inherited != "" || os.Getenv(envReadyFd) != "" {
		m.sockets, err = inheritSockets(inherited, 3)
		os.Unsetenv(envInherit)
		if err != nil {
			return err
		}
	} else {
		m.sockets = &socketSet{}
	}
	if _, err := m.sockets.grow(spec.Listen, max(spec.Processes, 1)); err != nil {
		m.sockets.closeAll()
		return err
	}
	if err := writePidFile(cfg.PidFile); err != nil {
		m.sockets.closeAll()
		return err
	}

	sigs := cfg.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT, sigReopen, sigUpgrade)
		defer signal.Stop(ch)
		sigs = ch
	}

	if err := m.startGeneration(); err != nil {
		m.sockets.closeAll()
		removePidFile(cfg.PidFile)
		return err
	}
	m.log.Info("supervisor: serving", "pid", os.Getpid(), "processes", spec.Processes, "listen", fmtAddrs(spec.Listen))
	if fd := os.Getenv(envReadyFd); fd != "" { // a new master: tell the old one
		os.Unsetenv(envReadyFd)
		notifyFd(fd, "ready")
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	return m.loop(sigs)
}

func fmtAddrs(as []Addr) string {
	s := ""
	for i, a := range as {
		if i > 0 {
			s += " "
		}
		s += string(a)
	}
	return s
}

// startGeneration starts one worker per slot and waits until all are ready;
// on failure it stops them and returns the error.
func (m *master) startGeneration() error {
	m.gen++
	n := max(m.spec.Processes, 1)
	ws := make([]*worker, n)
	for i := range ws {
		w, err := m.spawn(i)
		if err != nil {
			m.abandon(ws[:i])
			return err
		}
		ws[i] = w
	}
	deadline := time.After(m.cfg.ReadyTimeout)
	for _, w := range ws {
		select {
		case err := <-w.ready:
			if err != nil {
				m.abandon(ws)
				return fmt.Errorf("%w: worker %d: %v", ErrReloadFailed, w.slot, err)
			}
		case <-deadline:
			m.abandon(ws)
			return fmt.Errorf("%w: workers not ready after %v", ErrReloadFailed, m.cfg.ReadyTimeout)
		}
	}
	m.current = ws
	return nil
}

// abandon stops workers of a failed generation.
func (m *master) abandon(ws []*worker) {
	for _, w := range ws {
		if w == nil {
			continue
		}
		w.draining = true
		w.h.stop(false)
	}
	for _, w := range ws {
		if w != nil {
			<-w.exited
		}
	}
}

func (m *master) addLive(w *worker) {
	m.mu.Lock()
	m.live[w] = true
	m.mu.Unlock()
}

func (m *master) dropLive(w *worker) {
	m.mu.Lock()
	delete(m.live, w)
	m.mu.Unlock()
}

// liveWorkers lists the live workers (of every generation).
func (m *master) liveWorkers() []*worker {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := make([]*worker, 0, len(m.live))
	for w := range m.live {
		ws = append(ws, w)
	}
	return ws
}

// totals adds the latest Stats of every live worker into into. It runs on
// the goroutine of the request (a worker's reader, or an in-process App's
// Hub.Totals) and asks in-process Apps for their Stats there.
func (m *master) totals(into Stats) {
	for _, w := range m.liveWorkers() {
		if st := w.h.stats(); st != nil {
			into.Add(st)
		}
	}
}

// totalsReply answers a worker process's totals request: the sum as JSON.
func (m *master) totalsReply(id uint64) message {
	if m.cfg.NewStats == nil {
		return message{Op: opTotals, ID: id, Err: errNoNewStats.Error()}
	}
	sum := m.cfg.NewStats()
	m.totals(sum)
	b, err := json.Marshal(sum)
	if err != nil {
		return message{Op: opTotals, ID: id, Err: "encode the totals: " + err.Error()}
	}
	return message{Op: opTotals, ID: id, Data: b}
}

// publish relays a hub message to every live worker except from.
func (m *master) publish(from *worker, topic string, data []byte) {
	for _, w := range m.liveWorkers() {
		if w != from {
			w.h.deliver(topic, data)
		}
	}
}

// exited runs on the loop when a worker process ends.
func (m *master) exited(w *worker, err error) {
	if w.draining || m.stopping {
		m.log.Info("supervisor: worker exited", "slot", w.slot, "generation", w.gen, "pid", w.h.pid(), "status", exitStatus(err))
		return
	}
	if w.slot >= len(m.current) || m.current[w.slot] != w {
		return // a worker of a failed reload
	}
	ran := time.Since(w.started)
	d := m.backoff[w.slot]
	if ran > 10*time.Second {
		d = 0
	}
	if d == 0 {
		d = 100 * time.Millisecond
	} else {
		d = min(d*2, 30*time.Second)
	}
	m.backoff[w.slot] = d
	m.log.Error("supervisor: worker died, restarting", "slot", w.slot, "pid", w.h.pid(), "status", exitStatus(err), "ran", ran.Round(time.Millisecond), "restart_in", d)
	if ran > 10*time.Second {
		d = 0 // a worker that ran a while is replaced at once
	}
	time.AfterFunc(d, func() {
		m.events <- func() { m.respawn(w.slot, w.gen) }
	})
}

func (m *master) respawn(slot, gen int) {
	if m.stopping || gen != m.gen || slot >= len(m.current) {
		return
	}
	nw, err := m.spawn(slot)
	if err != nil {
		m.log.Error("supervisor: restart worker", "slot", slot, "err", err)
		time.AfterFunc(time.Second, func() { m.events <- func() { m.respawn(slot, gen) } })
		return
	}
	m.current[slot] = nw
	go func() {
		if err := <-nw.ready; err == nil {
			m.log.Info("supervisor: worker restarted", "slot", slot, "pid", nw.h.pid())
		}
	}()
}

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

// loop serves signals and worker events until the master stops.
func (m *master) loop(sigs <-chan os.Signal) error {
	var rotate <-chan time.Time
	if m.cfg.RotateLog != nil {
		t := time.NewTicker(m.cfg.RotateCheck)
		defer t.Stop()
		rotate = t.C
	}
	for {
		select {
		case <-rotate:
			if rotated, err := m.cfg.RotateLog(); err != nil {
				m.log.Error("supervisor: rotate log", "err", err)
			} else if rotated {
				for _, w := range m.liveWorkers() {
					w.h.logRotated()
				}
			}
		case f := <-m.events:
			f()
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				m.reload()
			case sigReopen:
				m.reopen()
			case sigUpgrade:
				m.startUpgrade()
			case syscall.SIGQUIT:
				return m.shutdown(true)
			case syscall.SIGTERM, syscall.SIGINT:
				return m.shutdown(false)
			}
		case err := <-m.upgradeDone():
			if m.finishUpgrade(err) {
				return m.exitAfterUpgrade()
			}
		}
	}
}

func (m *master) reopen() {
	if m.cfg.ReopenLog != nil {
		if err := m.cfg.ReopenLog(); err != nil {
			m.log.Error("supervisor: reopen log", "err", err)
		}
	}
	for _, w := range m.liveWorkers() {
		w.h.reopen()
	}
	m.log.Info("supervisor: logs reopened")
}

// reload loads the configuration, starts a new generation on the (possibly
// extended) sockets and drains the old one. Any failure keeps the old one.
func (m *master) reload() {
	spec, err := m.cfg.Load()
	if err != nil {
		m.log.Error("supervisor: reload rejected, keeping the running workers", "err", err)
		return
	}
	prev := *m.sockets
	prevSpec := m.spec
	retired, err := m.sockets.grow(spec.Listen, max(spec.Processes, 1))
	if err != nil {
		*m.sockets = prev
		m.log.Error("supervisor: reload rejected, keeping the running workers", "err", err)
		return
	}
	if (spec.Processes == 0) != (prevSpec.Processes == 0) {
		m.log.Warn("supervisor: switching between in-process and worker processes needs a restart; keeping processes", "processes", prevSpec.Processes)
		spec.Processes = prevSpec.Processes
	}
	old := m.current
	m.spec = spec
	if err := m.startGeneration(); err != nil {
		// Close what grow opened for the new configuration only.
		keep := map[*socket]bool{}
		for _, slot := range prev.slots {
			for _, s := range slot {
				keep[s] = true
			}
		}
		var opened []*socket
		for _, slot := range m.sockets.slots {
			for _, s := range slot {
				if !keep[s] {
					opened = append(opened, s)
				}
			}
		}
		closeSockets(uniqueSockets(opened))
		*m.sockets = prev
		m.spec = prevSpec
		m.current = old
		m.log.Error("supervisor: reload failed, keeping the running workers", "err", err)
		return
	}
	m.log.Info("supervisor: reloaded", "generation", m.gen, "processes", spec.Processes, "listen", fmtAddrs(spec.Listen))
	for _, w := range old {
		w.draining = true
		w.h.stop(true)
	}
	if len(retired) > 0 {
		go func() {
			for _, w := range old {
				<-w.exited
			}
			closeSockets(uniqueSockets(retired))
		}()
	}
}

// shutdown stops every worker (draining or fast) and cleans up.
func (m *master) shutdown(graceful bool) error {
	m.stopping = true
	how := "fast"
	if graceful {
		how = "graceful"
	}
	m.log.Info("supervisor: stopping", "how", how)
	ws := m.liveWorkers()
	for _, w := range ws {
		w.draining = true
		w.h.stop(graceful)
	}
	limit := 10 * time.Second
	if graceful {
		limit += m.spec.DrainTimeout
	}
	m.waitWorkers(ws, limit)
	m.abortUpgrade()
	m.sockets.closeAll()
	removePidFile(m.cfg.PidFile)
	m.log.Info("supervisor: stopped")
	return nil
}

// waitWorkers waits for ws to exit, killing worker processes still running
// after limit.
func (m *master) waitWorkers(ws []*worker, limit time.Duration) {
	deadline := time.After(limit)
	for _, w := range ws {
		select {
		case <-w.exited:
		case <-deadline:
			m.log.Warn("supervisor: worker did not stop in time (a process is killed)", "slot", w.slot, "pid", w.h.pid())
			w.h.kill()
			<-w.exited
		}
	}
}

// workerProcs is the GOMAXPROCS of each of n worker processes on a machine
// with cpus cores: its share of the cores, at least one. Like nginx workers,
// the processes divide the machine instead of each running a scheduler
// sized for all of it: with more workers than cores (the per-process
// descriptor limit can demand that), every worker's runtime would otherwise
// wake idle threads to look for work the other processes are doing, and
// the context switches would eat the CPU (bench/RESULTS.md, "a million
// connections"). The GOMAXPROCS environment variable overrides it.
func workerProcs(cpus, n int) int {
	return max(1, cpus/max(n, 1))
}
