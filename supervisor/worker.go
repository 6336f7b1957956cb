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
	"sync"
	"sync/atomic"
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
	// Stats returns a snapshot that marshals to a JSON object. The master
	// sums the numbers of every worker's snapshot (Hub.Totals).
	Stats() any
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

// Hub connects a worker to the other workers through the master: summed
// stats and a publish/subscribe relay (the chat application uses it so a
// message said on one worker reaches users on every worker).
type Hub struct {
	// For workers in a child process:
	ctl     *control
	nextID  atomic.Uint64
	mu      sync.Mutex // guards waiters and subs
	waiters map[uint64]chan json.RawMessage
	subs    map[string][]subscriber
	// For the in-process worker: the master answers directly.
	local *master
	self  *worker
}

// subscriber receives the data of one published message.
type subscriber func(data []byte)

func newHub() *Hub {
	return &Hub{waiters: map[uint64]chan json.RawMessage{}, subs: map[string][]subscriber{}}
}

// Totals returns the sum of the latest stats of every live worker.
func (h *Hub) Totals(ctx context.Context) (json.RawMessage, error) {
	if h.local != nil {
		return h.local.totals(), nil
	}
	id := h.nextID.Add(1)
	ch := make(chan json.RawMessage, 1)
	h.mu.Lock()
	h.waiters[id] = ch
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.waiters, id)
		h.mu.Unlock()
	}()
	if err := h.ctl.send(message{Op: "totals", ID: id}); err != nil {
		return nil, ErrControlClosed
	}
	select {
	case d, ok := <-ch:
		if !ok {
			return nil, ErrControlClosed
		}
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Publish sends data to the subscribers of topic in every other worker.
func (h *Hub) Publish(topic string, data []byte) error {
	if h.local != nil {
		h.local.publish(h.self, topic, data)
		return nil
	}
	if err := h.ctl.send(message{Op: "publish", Topic: topic, Data: mustJSON(data)}); err != nil {
		return ErrControlClosed
	}
	return nil
}

// Subscribe calls fn (on a hub goroutine; it must not block long) with the
// data of every message another worker publishes on topic.
func (h *Hub) Subscribe(topic string, fn func(data []byte)) {
	h.mu.Lock()
	h.subs[topic] = append(h.subs[topic], fn)
	h.mu.Unlock()
}

func (h *Hub) deliver(topic string, data []byte) {
	h.mu.Lock()
	fns := append([]subscriber(nil), h.subs[topic]...)
	h.mu.Unlock()
	for _, fn := range fns {
		fn(data)
	}
}

// mustJSON encodes bytes as a JSON string (base64), so any payload fits a
// control line.
func mustJSON(b []byte) json.RawMessage {
	out, _ := json.Marshal(b)
	return out
}

func fromJSONBytes(r json.RawMessage) []byte {
	var b []byte
	json.Unmarshal(r, &b)
	return b
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
	if err != nil || first.Op != "config" {
		return fmt.Errorf("supervisor: worker expected its configuration from the master: %v", err)
	}
	env.Config = []byte(first.Config)
	hub := newHub()
	hub.ctl = ctl
	env.Hub = hub

	app, err := newApp(env)
	if err != nil {
		ctl.send(message{Op: "failed", Err: err.Error()})
		return err
	}
	ctl.send(message{Op: "ready"})
	log := slog.Default()
	log.Info("supervisor: worker ready", "slot", slot, "generation", gen, "pid", os.Getpid())

	masterGone := make(chan struct{})
	go func() { // reader: replies and relayed messages
		defer close(masterGone)
		for {
			m, err := ctl.recv()
			if err != nil {
				hub.mu.Lock()
				for id, ch := range hub.waiters {
					close(ch)
					delete(hub.waiters, id)
				}
				hub.mu.Unlock()
				return
			}
			switch m.Op {
			case "totals":
				hub.mu.Lock()
				ch := hub.waiters[m.ID]
				hub.mu.Unlock()
				if ch != nil {
					ch <- m.Data
				}
			case "publish":
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
			pushStats(ctl, app)
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

func pushStats(ctl *control, app App) {
	b, err := json.Marshal(app.Stats())
	if err != nil {
		return
	}
	ctl.send(message{Op: "stats", Data: b})
}
