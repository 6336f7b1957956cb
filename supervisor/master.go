package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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

// worker is the master's handle on one worker: a child process, or the App
// of an in-process generation.
type worker struct {
	slot, gen int
	started   time.Time
	draining  bool // owned by the master loop

	// child process
	cmd *exec.Cmd
	ctl *control
	// in-process
	app App
	hub *Hub

	stats   atomic.Pointer[json.RawMessage] // latest pushed stats
	ready   chan error                      // one value: nil when serving
	built   chan struct{}                   // in-process: closed when NewApp returned (app or buildErr set)
	exited  chan struct{}                   // closed when the worker has exited; then exitErr is set
	exitErr error
	once    sync.Once
}

func (w *worker) finish(err error) {
	w.once.Do(func() {
		w.exitErr = err
		close(w.exited)
	})
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
		m.stopWorker(w, false)
	}
	for _, w := range ws {
		if w != nil {
			<-w.exited
		}
	}
}

// spawn starts the worker of slot for the current generation.
func (m *master) spawn(slot int) (*worker, error) {
	w := &worker{slot: slot, gen: m.gen, started: time.Now(), ready: make(chan error, 1), built: make(chan struct{}), exited: make(chan struct{})}
	if m.spec.Processes == 0 {
		return w, m.spawnInProcess(w)
	}
	return w, m.spawnProcess(w)
}

func (m *master) spawnInProcess(w *worker) error {
	env := &Env{Config: m.spec.Config, Slot: w.slot, Generation: w.gen, sockets: map[Addr]*socket{}}
	for j, a := range m.sockets.addrs {
		env.sockets[a] = m.sockets.slots[w.slot][j]
	}
	w.hub = newHub()
	w.hub.local, w.hub.self = m, w
	env.Hub = w.hub
	m.addLive(w)
	go func() {
		app, err := m.cfg.NewApp(env)
		if err != nil {
			m.dropLive(w)
			close(w.built)
			w.ready <- err
			w.finish(err)
			return
		}
		w.app = app
		close(w.built)
		w.ready <- nil
	}()
	return nil
}

func (m *master) spawnProcess(w *worker) error {
	files, layout, err := m.sockets.files(w.slot)
	if err != nil {
		return err
	}
	mine, theirs, err := controlPair()
	if err != nil {
		closeFiles(files)
		return err
	}
	cmd := exec.Command(m.cfg.Executable, m.cfg.Args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.ExtraFiles = append([]*os.File{theirs}, files...)
	cmd.Env = append(os.Environ(),
		envWorker+"="+strconv.Itoa(w.slot),
		envGeneration+"="+strconv.Itoa(w.gen),
		envSockets+"="+layout,
		envDrain+"="+m.spec.DrainTimeout.String(),
	)
	if os.Getenv("GOMAXPROCS") == "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(workerProcs(runtime.NumCPU(), m.spec.Processes)))
	}
	cmd.SysProcAttr = workerAttr()
	err = cmd.Start()
	theirs.Close()
	closeFiles(files)
	if err != nil {
		mine.Close()
		return fmt.Errorf("supervisor: start worker %d: %w", w.slot, err)
	}
	ctl, err := controlFromFile(mine)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	w.cmd, w.ctl = cmd, ctl
	m.addLive(w)
	ctl.send(message{Op: "config", Config: string(m.spec.Config)})
	go m.readWorker(w)
	go func() {
		err := cmd.Wait()
		ctl.close()
		m.dropLive(w)
		select {
		case w.ready <- fmt.Errorf("exited before it was ready: %v", err):
		default:
		}
		w.finish(err)
		m.events <- func() { m.exited(w, err) }
	}()
	return nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// readWorker handles a worker's control messages.
func (m *master) readWorker(w *worker) {
	for {
		msg, err := w.ctl.recv()
		if err != nil {
			return
		}
		switch msg.Op {
		case "ready":
			select {
			case w.ready <- nil:
			default:
			}
		case "failed":
			select {
			case w.ready <- errors.New(msg.Err):
			default:
			}
		case "stats":
			d := msg.Data
			w.stats.Store(&d)
		case "totals":
			w.ctl.send(message{Op: "totals", ID: msg.ID, Data: m.totals()})
		case "publish":
			m.publish(w, msg.Topic, fromJSONBytes(msg.Data))
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

// totals sums the latest stats of every live worker.
func (m *master) totals() json.RawMessage {
	m.mu.Lock()
	var parts []json.RawMessage
	for w := range m.live {
		if w.cmd == nil && isClosed(w.built) && w.app != nil {
			if b, err := json.Marshal(w.app.Stats()); err == nil {
				parts = append(parts, b)
			}
		} else if p := w.stats.Load(); p != nil {
			parts = append(parts, *p)
		}
	}
	n := len(m.live)
	m.mu.Unlock()
	sum := SumJSON(parts...)
	out, _ := json.Marshal(struct {
		Workers int             `json:"workers"`
		Sum     json.RawMessage `json:"sum"`
	}{n, sum})
	return out
}

// publish relays a hub message to every live worker except from.
func (m *master) publish(from *worker, topic string, data []byte) {
	m.mu.Lock()
	var to []*worker
	for w := range m.live {
		if w != from {
			to = append(to, w)
		}
	}
	m.mu.Unlock()
	for _, w := range to {
		if w.hub != nil {
			w.hub.deliver(topic, data)
		} else if w.ctl != nil {
			w.ctl.send(message{Op: "publish", Topic: topic, Data: mustJSON(data)})
		}
	}
}

// exited runs on the loop when a worker process ends.
func (m *master) exited(w *worker, err error) {
	if w.draining || m.stopping {
		m.log.Info("supervisor: worker exited", "slot", w.slot, "generation", w.gen, "pid", w.cmd.Process.Pid, "status", exitStatus(err))
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
	m.log.Error("supervisor: worker died, restarting", "slot", w.slot, "pid", w.cmd.Process.Pid, "status", exitStatus(err), "ran", ran.Round(time.Millisecond), "restart_in", d)
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
			m.log.Info("supervisor: worker restarted", "slot", slot, "pid", nw.cmd.Process.Pid)
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

// stopWorker tells a worker to drain (graceful) or stop.
func (m *master) stopWorker(w *worker, graceful bool) {
	if w.cmd != nil {
		sig := syscall.SIGTERM
		if graceful {
			sig = syscall.SIGQUIT
		}
		w.cmd.Process.Signal(sig)
		return
	}
	go func() { // in-process
		<-w.built
		if w.app == nil {
			return // NewApp failed: already finished
		}
		var err error
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), m.spec.DrainTimeout)
			err = w.app.Drain(ctx)
			cancel()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = w.app.Stop(ctx)
			cancel()
		}
		m.dropLive(w)
		w.finish(err)
	}()
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
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
				m.signalWorkers(sigReopen)
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

// signalWorkers sends sig to every live worker process.
func (m *master) signalWorkers(sig syscall.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for w := range m.live {
		if w.cmd != nil {
			w.cmd.Process.Signal(sig)
		}
	}
}

func (m *master) reopen() {
	if m.cfg.ReopenLog != nil {
		if err := m.cfg.ReopenLog(); err != nil {
			m.log.Error("supervisor: reopen log", "err", err)
		}
	}
	m.mu.Lock()
	var ws []*worker
	for w := range m.live {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	for _, w := range ws {
		if w.cmd != nil {
			w.cmd.Process.Signal(sigReopen)
		} else if isClosed(w.built) && w.app != nil {
			if err := w.app.Reopen(); err != nil {
				m.log.Error("supervisor: reopen worker logs", "err", err)
			}
		}
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
		m.stopWorker(w, true)
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
	m.mu.Lock()
	var ws []*worker
	for w := range m.live {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	for _, w := range ws {
		w.draining = true
		m.stopWorker(w, graceful)
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
			if w.cmd != nil {
				m.log.Warn("supervisor: killing worker that did not stop", "slot", w.slot, "pid", w.cmd.Process.Pid)
				w.cmd.Process.Kill()
			}
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
