package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"wharf/accounts"
	"wharf/chat"
	"wharf/config"
	"wharf/engine"
	"wharf/server"
)

// instance is one generation of wharfd's serving side: the packet server
// with the chat application on the accounts store. A single-process wharfd
// runs one; a reload replaces it with a new one on the same listeners.
type instance struct {
	cfg   config.Config
	log   *slog.Logger
	store accounts.Store
	acc   *accounts.Service
	app   *chat.App
	srv   *server.Server
	stop  chan struct{} // ends the purge loop
	done  chan struct{}
}

// listeners are the sockets an instance serves, opened once by whoever owns
// them (this process, or the master) and handed to every generation.
type listeners struct {
	packet []net.Listener
}

// openListeners opens the sockets the config asks for.
func openListeners(cfg config.Config) (*listeners, error) {
	ls := &listeners{}
	for _, addr := range cfg.Server.Listen {
		network, address, err := engine.ParseAddr(addr)
		if err != nil {
			ls.close()
			return nil, err
		}
		ln, err := net.Listen(network, address)
		if err != nil {
			ls.close()
			return nil, fmt.Errorf("wharfd: listen %s: %w", addr, err)
		}
		ls.packet = append(ls.packet, ln)
	}
	return ls, nil
}

func (ls *listeners) close() {
	for _, ln := range ls.packet {
		ln.Close()
	}
}

// newInstance opens the database and builds the servers; nothing is served
// before start.
func newInstance(ctx context.Context, cfg config.Config, log *slog.Logger) (*instance, error) {
	in := &instance{cfg: cfg, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	dbURL := cfg.ResolvedDatabaseURL()
	store, err := accounts.Open(ctx, dbURL, accounts.StoreOptions{MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, fmt.Errorf("wharfd: open database %s: %w", accounts.RedactURL(dbURL), err)
	}
	in.store = store
	if in.acc, err = accounts.NewService(store, accounts.Config{}); err != nil {
		store.Close()
		return nil, err
	}
	in.app = chat.New(in.acc, chat.Config{Logger: log})
	rt := server.NewRouter()
	in.app.Routes(rt)
	in.srv, err = server.New(serverConfig(cfg, log), rt)
	if err != nil {
		store.Close()
		return nil, err
	}
	in.app.Attach(in.srv)
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

// start serves the listeners (the instance takes duplicates, so the owner
// keeps its own).
func (in *instance) start(ls *listeners) error {
	for _, ln := range ls.packet {
		dup, err := dupListener(ln)
		if err != nil {
			return err
		}
		if err := in.srv.AddListener(dup); err != nil {
			return err
		}
	}
	if err := in.srv.Start(); err != nil {
		return err
	}
	go in.purgeSessions()
	return nil
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

// drain stops accepting, lets clients leave for up to ctx, then closes
// what is left, and releases everything.
func (in *instance) drain(ctx context.Context) error {
	err := in.srv.Drain(ctx)
	return errors.Join(err, in.release())
}

// shutdown stops at once (gracefully for requests in flight, within ctx).
func (in *instance) shutdown(ctx context.Context) error {
	err := in.srv.Shutdown(ctx)
	return errors.Join(err, in.release())
}

func (in *instance) release() error {
	close(in.stop)
	<-in.done
	return in.store.Close()
}

// describe says what the instance serves, for the startup log line.
func (in *instance) describe() string {
	var parts []string
	for _, a := range in.srv.Engine().Addrs() {
		parts = append(parts, "packets on tcp "+a.String())
	}
	parts = append(parts, "accounts in "+accounts.RedactURL(in.cfg.ResolvedDatabaseURL()))
	return strings.Join(parts, ", ")
}
