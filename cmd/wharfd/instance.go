package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"wharf/accounts"
	"wharf/chat"
	"wharf/config"
	"wharf/engine"
	"wharf/logging"
	"wharf/server"
	"wharf/supervisor"
)

// instance is one generation of wharfd's serving side in one process: the
// packet server with the chat application on the accounts store. It is the
// supervisor's App.
type instance struct {
	cfg   config.Config
	log   *slog.Logger
	lg    *logging.Logger // the worker's own logger (nil in-process: the master's)
	store accounts.Store
	acc   *accounts.Service
	app   *chat.App
	srv   *server.Server
	hub   *supervisor.Hub
	stop  chan struct{} // ends the purge loop
	done  chan struct{}
}

var _ supervisor.App = (*instance)(nil)

// listenAddrs lists every socket the configuration serves, for the master.
func listenAddrs(cfg config.Config) []supervisor.Addr {
	var out []supervisor.Addr
	for _, a := range cfg.Server.Listen {
		out = append(out, supervisor.Addr(a))
	}
	return out
}

// startInstance opens the database, builds the servers on env's sockets
// and starts serving.
func startInstance(cfg config.Config, env *supervisor.Env, log *slog.Logger, lg *logging.Logger) (*instance, error) {
	ctx := context.Background()
	in := &instance{cfg: cfg, log: log, lg: lg, hub: env.Hub, stop: make(chan struct{}), done: make(chan struct{})}
	dbURL := cfg.ResolvedDatabaseURL()
	store, err := accounts.Open(ctx, dbURL, accounts.StoreOptions{MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, fmt.Errorf("wharfd: open database %s: %w", accounts.RedactURL(dbURL), err)
	}
	in.store = store
	fail := func(err error) (*instance, error) {
		if in.srv != nil {
			in.srv.Shutdown(ctx)
		}
		store.Close()
		return nil, err
	}
	if in.acc, err = accounts.NewService(store, accounts.Config{}); err != nil {
		return fail(err)
	}
	in.app = chat.New(in.acc, chat.Config{Logger: log})
	rt := server.NewRouter()
	in.app.Routes(rt)
	if in.srv, err = server.New(serverConfig(cfg, log), rt); err != nil {
		return fail(err)
	}
	in.app.Attach(in.srv)
	in.app.Relay(env.Hub)
	for _, addr := range cfg.Server.Listen {
		ln, err := env.Listener(addr)
		if err != nil {
			return fail(err)
		}
		if err := in.srv.AddListener(ln); err != nil {
			return fail(err)
		}
	}
	if err := in.srv.Start(); err != nil {
		return fail(err)
	}
	go in.purgeSessions()
	log.Info("wharfd: serving", "what", in.describe())
	return in, nil
}

// serverConfig maps the [server] table onto server.Config. The config file
// says 0 to disable the idle timeout and flood_interval "0s" to disable the
// flood guard; server.Config says so with negative values.
func serverConfig(cfg config.Config, log *slog.Logger) server.Config {
	c := cfg.Server
	sc := server.Config{
		MaxConnections:    c.MaxConnections,
		IdleTimeout:       time.Duration(c.IdleTimeout),
		FloodInterval:     time.Duration(c.FloodInterval),
		FloodCount:        c.FloodCount,
		MaxPendingPerConn: c.MaxPendingPerConn,
		MaxPendingTotal:   c.MaxPendingTotal,
		Handlers:          c.Handlers,
		HandlerQueue:      c.HandlerQueue,
		StatsInterval:     time.Duration(c.StatsInterval),
		MaxPacket:         int(c.MaxPacket),
		MaxBadPackets:     c.MaxBadPackets,
		Logger:            log,
	}
	if sc.IdleTimeout == 0 {
		sc.IdleTimeout = -1
	}
	if sc.FloodInterval == 0 {
		sc.FloodCount = -1
	}
	if sc.StatsInterval == 0 {
		sc.StatsInterval = -1
	}
	sc.Engine.Kind, _ = engine.ParseKind(c.Engine) // validated by config
	sc.Engine.Loops = c.Loops
	return sc
}

// purgeSessions deletes expired login sessions hourly.
func (in *instance) purgeSessions() {
	defer close(in.done)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
			if n, err := in.acc.PurgeExpired(context.Background()); err != nil {
				in.log.Warn("wharfd: purge expired sessions", "err", err)
			} else if n > 0 {
				in.log.Info("wharfd: purged expired sessions", "count", n)
			}
		}
	}
}

// Drain stops accepting, lets clients leave until ctx is done, then closes
// what is left and releases everything.
func (in *instance) Drain(ctx context.Context) error {
	err := in.srv.Drain(ctx)
	return errors.Join(err, in.release())
}

// Stop stops at once (requests in flight get until ctx).
func (in *instance) Stop(ctx context.Context) error {
	err := in.srv.Shutdown(ctx)
	return errors.Join(err, in.release())
}

// Reopen reopens the worker's log file.
func (in *instance) Reopen() error {
	if in.lg == nil {
		return nil
	}
	return in.lg.Reopen()
}

func (in *instance) release() error {
	close(in.stop)
	<-in.done
	err := in.store.Close()
	if in.lg != nil {
		in.log.Info("wharfd: worker stopped")
		err = errors.Join(err, in.lg.Close())
	}
	return err
}

// Stats is the snapshot the master sums over workers.
func (in *instance) Stats() any {
	st := in.srv.Stats()
	kicks := map[string]uint64{}
	for k := range server.NumKicks {
		kicks[k.String()] = st.Kicks[k]
	}
	return map[string]any{
		"online":        st.Online,
		"accepted":      st.Accepted,
		"packets_in":    st.PacketsIn,
		"packets_out":   st.PacketsOut,
		"bytes_in":      st.BytesIn,
		"bytes_out":     st.BytesOut,
		"handler_queue": st.HandlerQueue,
		"send_queue":    st.SendQueue,
		"dropped":       st.Dropped,
		"overloaded":    st.Overloaded,
		"bad_crc":       st.BadPackets,
		"kicks":         kicks,
	}
}

// describe says what the instance serves, for the startup log line.
func (in *instance) describe() string {
	var parts []string
	for _, a := range in.srv.Engine().Addrs() {
		parts = append(parts, "packets on "+a.Network()+" "+a.String())
	}
	parts = append(parts, "accounts in "+accounts.RedactURL(in.cfg.ResolvedDatabaseURL()))
	return strings.Join(parts, ", ")
}
