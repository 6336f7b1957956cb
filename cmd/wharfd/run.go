package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wharf/config"
	"wharf/logging"
)

func run(o options) error {
	if o.version {
		fmt.Println("wharfd", version)
		return nil
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return err
	}
	switch {
	case o.test:
		name := o.configPath
		if name == "" {
			name = "(embedded defaults)"
		}
		fmt.Printf("wharfd: the configuration %s is ok\n", name)
		return nil
	case o.printConfig:
		b, err := cfg.TOML()
		if err != nil {
			return err
		}
		os.Stdout.Write(b)
		return nil
	}
	lg, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer lg.Close()
	return serve(o, cfg, lg)
}

// newLogger builds the logger of the [log] table.
func newLogger(cfg config.Config) (*logging.Logger, error) {
	c := cfg.Log
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("wharfd: log.level: %w", err)
	}
	onFull, err := logging.ParseFullPolicy(c.OnFull)
	if err != nil {
		return nil, err
	}
	lc := logging.Config{
		Level:     level,
		Format:    c.Format,
		File:      c.File,
		AddSource: c.Source,
		Async:     c.Async,
		OnFull:    onFull,
	}
	if c.File != "" { // rotation applies to files only
		lc.MaxSizeMB = int((int64(c.MaxSize) + (1<<20 - 1)) >> 20)
		lc.MaxBackups = c.MaxBackups
		lc.MaxAgeDays = int((time.Duration(c.MaxAge) + 24*time.Hour - 1) / (24 * time.Hour))
		lc.Daily = c.Daily
	}
	return logging.New(lc)
}

// serve runs wharfd in one process until a stop signal: INT/TERM stop fast,
// QUIT stops gracefully, HUP reloads the configuration into a new instance
// on the same listeners while the old one drains, USR1 reopens the log file.
func serve(o options, cfg config.Config, lg *logging.Logger) error {
	log := lg.Logger()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	ls, err := openListeners(cfg)
	if err != nil {
		return err
	}
	defer ls.close()
	in, err := newInstance(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	if err := in.start(ls); err != nil {
		in.shutdown(context.Background())
		return err
	}
	log.Info("wharfd: serving", "pid", os.Getpid(), "what", in.describe())

	for sig := range sigs {
		switch sig {
		case syscall.SIGINT, syscall.SIGTERM:
			log.Info("wharfd: fast stop", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := in.shutdown(ctx)
			cancel()
			log.Info("wharfd: stopped")
			return err
		case syscall.SIGQUIT:
			log.Info("wharfd: graceful stop", "signal", sig.String(), "drain_timeout", time.Duration(cfg.DrainTimeout))
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.DrainTimeout))
			err := in.drain(ctx)
			cancel()
			log.Info("wharfd: stopped")
			return err
		case syscall.SIGUSR1:
			if err := lg.Reopen(); err != nil {
				log.Error("wharfd: reopen log", "err", err)
			} else {
				log.Info("wharfd: log reopened")
			}
		case syscall.SIGHUP:
			next, nextLs, err := reload(o, cfg, ls, log)
			if err != nil {
				log.Error("wharfd: reload rejected, still serving with the old configuration", "err", err)
				continue
			}
			old, oldLs := in, ls
			in, ls, cfg = next, nextLs, next.cfg
			lg.SetLevel(levelOf(cfg))
			log.Info("wharfd: reloaded", "what", in.describe())
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(old.cfg.DrainTimeout))
				defer cancel()
				if err := old.drain(ctx); err != nil {
					log.Warn("wharfd: old instance drained with an error", "err", err)
				}
				if oldLs != ls {
					oldLs.close()
				}
			}()
		}
	}
	return nil
}

func levelOf(cfg config.Config) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(cfg.Log.Level))
	return l
}

// reload reads the config file again and starts a new instance. Listeners
// are kept when the listen addresses did not change, so no connection is
// refused; otherwise a new set is opened (addresses still in use keep
// working through the old instance until it drains).
func reload(o options, cur config.Config, ls *listeners, log *slog.Logger) (*instance, *listeners, error) {
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Processes != cur.Processes {
		log.Warn("wharfd: a change of processes takes effect after a restart", "processes", cfg.Processes)
	}
	nls := ls
	if !sameStrings(cfg.Server.Listen, cur.Server.Listen) {
		ls.close() // free the ports for the new set; the old instance holds duplicates
		if nls, err = openListeners(cfg); err != nil {
			return nil, nil, err
		}
	}
	in, err := newInstance(context.Background(), cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if err := in.start(nls); err != nil {
		in.shutdown(context.Background())
		return nil, nil, err
	}
	return in, nls, nil
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
