package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// worker is the master's record of one worker: its place, its lifecycle
// and the handle that drives it, a child process or an App in the
// master's own process (spawn chooses, once).
type worker struct {
	slot, gen int
	started   time.Time
	draining  bool   // owned by the master loop
	h         handle // set by spawn before the worker is live; read-only after

	ready   chan error    // one value: nil when serving
	exited  chan struct{} // closed when the worker has exited; then exitErr is set
	exitErr error
	once    sync.Once
}

func (w *worker) finish(err error) {
	w.once.Do(func() {
		w.exitErr = err
		close(w.exited)
	})
}

// handle drives one worker, wherever it runs: procHandle for a child
// process, localHandle for an App in the master's process. Its methods
// are safe from any goroutine and return at once.
type handle interface {
	// stop tells the worker to drain (graceful) or to stop now; its
	// exited channel closes when it has. Called on the master loop.
	stop(graceful bool)
	// kill ends a worker that did not stop in time. An in-process App
	// cannot be killed and is waited for.
	kill()
	// reopen makes the worker reopen its log files (USR1 to the master).
	reopen()
	// logRotated tells the worker that the master rotated the log file
	// all processes write to (Config.RotateLog).
	logRotated()
	// deliver hands the worker a message another worker published.
	deliver(topic string, data []byte)
	// stats returns the worker's latest Stats; nil if there are none yet.
	stats() Stats
	// pid is the worker's process id, for logs: the master's own for an
	// in-process worker.
	pid() int
}

var (
	_ handle = (*procHandle)(nil)
	_ handle = (*localHandle)(nil)
)

// spawn starts the worker of slot for the current generation: a child
// process, or with processes = 0 an App in this process.
func (m *master) spawn(slot int) (*worker, error) {
	w := &worker{slot: slot, gen: m.gen, started: time.Now(), ready: make(chan error, 1), exited: make(chan struct{})}
	if m.spec.Processes == 0 {
		return w, m.startLocal(w)
	}
	return w, m.startProcess(w)
}

// localHandle is a worker running in the master's process: NewApp is
// called on a goroutine of its own, and the App is driven by method calls.
type localHandle struct {
	m     *master
	w     *worker
	hub   *Hub          // the App's hub: localLink to m
	built chan struct{} // closed once NewApp has returned; then app is set (nil if NewApp failed)
	app   App
}

func (m *master) startLocal(w *worker) error {
	h := &localHandle{m: m, w: w, built: make(chan struct{})}
	env := &Env{Config: m.spec.Config, Slot: w.slot, Generation: w.gen, sockets: map[Addr]*socket{}}
	for j, a := range m.sockets.addrs {
		env.sockets[a] = m.sockets.slots[w.slot][j]
	}
	h.hub = newHub(localLink{m: m, self: w})
	env.Hub = h.hub
	w.h = h
	m.addLive(w)
	go func() {
		app, err := m.cfg.NewApp(env)
		if err != nil {
			m.dropLive(w)
			close(h.built)
			w.ready <- err
			w.finish(err)
			return
		}
		h.app = app
		close(h.built)
		w.ready <- nil
	}()
	return nil
}

// serving returns the App once NewApp has returned it; nil before, or if
// NewApp failed.
func (h *localHandle) serving() App {
	select {
	case <-h.built:
		return h.app
	default:
		return nil
	}
}

func (h *localHandle) stop(graceful bool) {
	drain := h.m.spec.DrainTimeout // m.spec is the loop's: read it here, on the loop
	go func() {
		<-h.built
		if h.app == nil {
			return // NewApp failed: already finished
		}
		var err error
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			err = h.app.Drain(ctx)
			cancel()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = h.app.Stop(ctx)
			cancel()
		}
		h.m.dropLive(h.w)
		h.w.finish(err)
	}()
}

func (h *localHandle) kill() {}

func (h *localHandle) reopen() {
	if app := h.serving(); app != nil {
		if err := app.Reopen(); err != nil {
			h.m.log.Error("supervisor: reopen worker logs", "err", err)
		}
	}
}

// logRotated does nothing: an in-process App logs through the master's
// logger, which the master rotated itself.
func (h *localHandle) logRotated() {}

func (h *localHandle) deliver(topic string, data []byte) { h.hub.deliver(topic, data) }

func (h *localHandle) stats() Stats {
	if app := h.serving(); app != nil {
		return app.Stats()
	}
	return nil
}

func (h *localHandle) pid() int { return os.Getpid() }

// procHandle is a worker process: lifecycle commands go as signals, the
// rest over its control channel, read by readWorker.
type procHandle struct {
	cmd    *exec.Cmd
	ctl    *control
	latest atomic.Pointer[Stats] // last Stats the worker pushed, decoded; written by readWorker
}

func (m *master) startProcess(w *worker) error {
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
	h := &procHandle{cmd: cmd, ctl: ctl}
	w.h = h
	m.addLive(w)
	ctl.send(message{Op: opConfig, Config: string(m.spec.Config)})
	go m.readWorker(w, h)
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

// readWorker handles a worker process's control messages until its
// channel closes.
func (m *master) readWorker(w *worker, h *procHandle) {
	badStats := false // logged once per worker
	for {
		msg, err := h.ctl.recv()
		if err != nil {
			return
		}
		switch msg.Op {
		case opReady:
			select {
			case w.ready <- nil:
			default:
			}
		case opFailed:
			select {
			case w.ready <- errors.New(msg.Err):
			default:
			}
		case opStats:
			if m.cfg.NewStats == nil {
				continue // nobody can decode them
			}
			st := m.cfg.NewStats()
			if err := json.Unmarshal(msg.Data, st); err != nil {
				if !badStats {
					badStats = true
					m.log.Warn("supervisor: worker stats do not decode", "slot", w.slot, "pid", h.pid(), "err", err)
				}
				continue
			}
			h.latest.Store(&st)
		case opTotals:
			h.ctl.send(m.totalsReply(msg.ID))
		case opPublish:
			m.publish(w, msg.Topic, fromJSONBytes(msg.Data))
		default:
			m.log.Debug("supervisor: ignoring control message", "op", msg.Op, "slot", w.slot)
		}
	}
}

func (h *procHandle) stop(graceful bool) {
	sig := syscall.SIGTERM
	if graceful {
		sig = syscall.SIGQUIT
	}
	h.cmd.Process.Signal(sig)
}

func (h *procHandle) kill()       { h.cmd.Process.Kill() }
func (h *procHandle) reopen()     { h.cmd.Process.Signal(sigReopen) }
func (h *procHandle) logRotated() { h.cmd.Process.Signal(sigReopen) }

func (h *procHandle) deliver(topic string, data []byte) {
	h.ctl.send(message{Op: opPublish, Topic: topic, Data: mustJSON(data)})
}

func (h *procHandle) stats() Stats {
	if p := h.latest.Load(); p != nil {
		return *p
	}
	return nil
}

func (h *procHandle) pid() int { return h.cmd.Process.Pid }
