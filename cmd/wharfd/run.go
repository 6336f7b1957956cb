package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"wharf/config"
	"wharf/logging"
	"wharf/supervisor"
	"wharf/tlsconn"
)

func run(o options) error {
	if o.version {
		fmt.Println("wharfd", version)
		return nil
	}
	if supervisor.IsWorker() {
		return supervisor.RunWorker(workerApp)
	}
	if o.genCert != "" {
		cert, key, err := tlsconn.WriteSelfSigned(o.genCert)
		if err != nil {
			return err
		}
		fmt.Printf("wharfd: wrote %s and %s (self-signed, for %s; valid a year)\n", cert, key, strings.Join(tlsconn.SelfSignedHosts, ", "))
		fmt.Printf("wharfd: [tls] cert = %q, key = %q; clients trust %s as their CA\n", cert, key, cert)
		return nil
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return err
	}
	switch {
	case o.test:
		if err := checkChannels(cfg); err != nil {
			return err
		}
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
	case o.signal != "":
		pid, err := supervisor.Signal(cfg.PIDFile, o.signal)
		if err != nil {
			return err
		}
		fmt.Printf("wharfd: sent %s to the master (pid %d)\n", o.signal, pid)
		return nil
	}
	if err := supervisor.CheckPidFile(cfg.PIDFile); err != nil {
		return err
	}
	if cfg.Daemon {
		parent, err := supervisor.Daemonize()
		if parent {
			return err // the daemon serves (nil) or said why it could not
		}
	}
	lg, err := newLogger(cfg, -1)
	if err != nil {
		supervisor.DaemonFailed(err)
		return err
	}
	defer lg.Close()
	masterLog = lg
	err = supervisor.Run(supervisor.Config{
		Load:      func() (supervisor.Spec, error) { return loadSpec(o.configPath) },
		NewApp:    inProcessApp,
		NewStats:  newWorkerStats,
		PidFile:   cfg.PIDFile,
		Logger:    lg.Logger(),
		ReopenLog: lg.Reopen,
		RotateLog: lg.RotateIfDue, // workers share the file and do not rotate it themselves
		Ready:     supervisor.DaemonReady,
	})
	var inUse *supervisor.AddrInUseError
	if errors.As(err, &inUse) {
		err = fmt.Errorf("%v (is another wharfd running?)", inUse)
	}
	if err != nil {
		supervisor.DaemonFailed(err)
		if cfg.Log.File != "" { // else main prints it to the same standard error
			lg.Logger().Error("wharfd: " + err.Error())
		}
	}
	return err
}

// masterLog is the master's logger; an in-process generation logs through
// it too (one process, one log writer).
var masterLog *logging.Logger

// loadSpec reads the configuration for the master: what it needs itself,
// and the validated configuration for the workers.
func loadSpec(path string) (supervisor.Spec, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return supervisor.Spec{}, err
	}
	toml, err := cfg.TOML()
	if err != nil {
		return supervisor.Spec{}, err
	}
	if masterLog != nil {
		masterLog.SetLevel(levelOf(cfg))
	}
	return supervisor.Spec{
		Processes:    cfg.ResolvedProcesses(),
		Listen:       listenAddrs(cfg),
		DrainTimeout: time.Duration(cfg.DrainTimeout),
		Config:       toml,
	}, nil
}

// newLogger builds the logger of the [log] table. slot >= 0 is a worker
// process: it gets its own spool where spools exist (Linux; two per slot,
// alternating by generation, so a reloading slot's old and new workers
// never share one, and a restarted worker recovers what its crashed
// predecessor left), and no rotation (many processes renaming one file
// would lose lines).
func newLogger(cfg config.Config, slot int, gen ...int) (*logging.Logger, error) {
	c := cfg.Log
	onFull, err := logging.ParseFullPolicy(c.OnFull)
	if err != nil {
		return nil, err
	}
	lc := logging.Config{
		Level:     levelOf(cfg),
		Format:    c.Format,
		File:      c.File,
		AddSource: c.Source,
		Async:     c.Async,
		OnFull:    onFull,
	}
	if c.File != "" && slot < 0 { // rotation applies to files only, in the master
		lc.MaxSizeMB = int((int64(c.MaxSize) + (1<<20 - 1)) >> 20)
		lc.MaxBackups = c.MaxBackups
		lc.MaxAgeDays = int((time.Duration(c.MaxAge) + 24*time.Hour - 1) / (24 * time.Hour))
		lc.Daily = c.Daily
	}
	if c.File != "" && slot >= 0 && logging.SpoolSupported {
		g := 0
		if len(gen) > 0 {
			g = gen[0] % 2
		}
		lc.SpoolFile = fmt.Sprintf("%s.spool.%d.%d", c.File, slot, g)
	}
	return logging.New(lc)
}

func levelOf(cfg config.Config) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(cfg.Log.Level))
	return l
}

// workerApp builds the App in a worker process: its own logger, then the
// instance.
func workerApp(env *supervisor.Env) (supervisor.App, error) {
	cfg, err := config.Parse(env.Config, "configuration from the master")
	if err != nil {
		return nil, err
	}
	lg, err := newLogger(cfg, env.Slot, env.Generation)
	if err != nil {
		return nil, err
	}
	log := lg.Logger().With("worker", env.Slot)
	slog.SetDefault(log)
	in, err := startInstance(cfg, env, log, lg)
	if err != nil {
		lg.Close()
		return nil, err
	}
	return in, nil
}

// inProcessApp builds the App inside the master (processes = 0).
func inProcessApp(env *supervisor.Env) (supervisor.App, error) {
	cfg, err := config.Parse(env.Config, "configuration")
	if err != nil {
		return nil, err
	}
	return startInstance(cfg, env, masterLog.Logger(), nil)
}
