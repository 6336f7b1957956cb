// Package supervisor runs a server the way nginx does: a master process
// that owns the listening sockets and the configuration, and worker
// processes that serve. It reloads the configuration and upgrades the
// binary without refusing a connection, restarts workers that die, writes
// a pid file, answers signals and can detach as a daemon. wharfd is built
// on it; nothing in it knows about wharf's servers.
//
// # Using it
//
// One program is both master and worker. Its main asks IsWorker first:
//
//	func main() {
//		if supervisor.IsWorker() {
//			err := supervisor.RunWorker(newApp) // serve until the master says stop
//			...
//		}
//		err := supervisor.Run(supervisor.Config{
//			Load:     load,   // read and validate the configuration: a Spec
//			NewApp:   newApp, // build the App from an Env (in-process with processes = 0)
//			NewStats: func() supervisor.Stats { return new(myStats) },
//			PidFile:  "/run/myd.pid",
//		})
//		...
//	}
//
// An App is what a worker serves: NewApp builds it from an Env (the
// configuration, the slot, the sockets, the Hub) and returns once it
// serves; exactly one of Drain or Stop ends it. Env.Listener and
// Env.PacketConn hand the App its sockets by the address the Spec lists.
//
// # Processes
//
// With Spec.Processes = 0 the master serves itself: one generation of one
// App, in the master's process, with no fork. With N > 0 the master
// starts N worker processes (os.Executable, Config.Args) and never serves
// traffic. Each worker gets GOMAXPROCS = CPUs / N, at least 1, unless the
// environment sets GOMAXPROCS: the processes divide the machine instead
// of each running a scheduler sized for all of it. A worker runs in its
// own process group, so a Ctrl-C at the terminal reaches the master only,
// which decides how the workers stop.
//
// A worker that exits without being told to is logged and started again
// in its slot: after 100 ms, doubling up to 30 s while it keeps dying
// within 10 s of its start; one that ran longer is replaced at once.
//
// # Slots and sockets
//
// The master opens every address of Spec.Listen once per worker slot
// (0..N-1): a TCP or UDP address gets one SO_REUSEPORT socket per slot,
// all bound to the same port (the first slot's, so port 0 works), and the
// kernel spreads new connections (and UDP peers) over them. A Unix socket
// is one socket that every slot shares. Workers inherit their slot's
// sockets (descriptors from 4 on), and the master keeps its own copies
// open for as long as the address is configured. A worker that dies, or
// is replaced by a reload, therefore never takes its accept queue with
// it: connections waiting there are accepted by the slot's next worker.
// A reload that drops an address or shrinks the number of slots closes
// the retired sockets once the old workers using them have exited.
//
// # Signals
//
// Signals go to the master (Signal sends them by name through the pid
// file, as "nginx -s" does):
//
//	HUP   reload    load the configuration again (Config.Load) and start a
//	                new generation on the same sockets (below)
//	QUIT  quit      graceful stop: every worker drains for up to
//	                Spec.DrainTimeout, then the master exits
//	TERM  stop      fast stop (INT too): workers stop at once, in-flight
//	                requests get 5 s
//	USR1  reopen    reopen log files, in the master (Config.ReopenLog)
//	                and in every worker (App.Reopen)
//	USR2  upgrade   binary upgrade (below)
//
// Workers get QUIT (drain), TERM (stop) and USR1 (reopen) from the master
// and ignore HUP; a worker whose master disappears drains. Workers still
// running 10 s after a fast stop, or DrainTimeout + 10 s after a graceful
// one, are killed.
//
// # Reload
//
// On HUP the master calls Config.Load. A configuration that fails to load
// is logged and rejected, and the running workers go on. Otherwise the
// master opens the sockets the new Spec adds, starts a whole new
// generation, one worker per slot, and waits until every new worker is
// ready (at most Config.ReadyTimeout, 30 s). Only then are the old
// workers told to drain; they stop accepting but serve their connections
// for up to DrainTimeout. If any new worker fails, the new generation is
// stopped, the sockets it opened are closed, and the old one keeps
// serving. Switching between processes = 0 and N > 0 needs a restart.
//
// # Binary upgrade
//
// On USR2 the master starts a new master from the executable now on disk
// and hands it every socket of every slot (descriptors from 3 on, with
// their layout in the environment). The pid file moves to
// PidFile.oldbin meanwhile, so the new master writes its own. The new
// master starts its workers on the inherited sockets and reports on a
// pipe once they serve; the old master then drains its workers and exits,
// leaving the sockets (and Unix socket files) to the new one. If the new
// master fails, or is not serving within 60 s, it is killed, the pid file
// moves back, and the old master keeps serving.
//
// # Pid file
//
// Run writes Config.PidFile atomically (a temporary file renamed into
// place) and removes it at exit if it still names this process. It
// refuses to start, with ErrRunning, while the file names a live process
// of the same program; a stale file (a dead pid, or one reused by another
// program) is replaced. CheckPidFile makes the same check before anything
// is opened, so a second start fails cleanly. ReadPid and Signal find the
// master through the file.
//
// # Daemon mode
//
// Daemonize detaches the program: it starts a copy of itself in a new
// session with stdin, stdout and stderr on /dev/null, and waits until the
// copy calls DaemonReady (pass it as Config.Ready) or DaemonFailed (with
// Run's error). The starting process then exits with the outcome, so the
// shell learns whether the daemon serves. A master started by an upgrade
// is already detached and does not detach again.
//
// # Stats and the hub
//
// Every second a worker process sends its App's Stats (App.Stats) to the
// master as JSON, where they are decoded into a value from
// Config.NewStats and kept. Hub.Totals, called in any worker, asks the
// master for the sum over every live worker: the master adds the latest
// Stats together with Stats.Add and sends the sum back. An in-process
// App's Hub asks the master directly, and the master asks the App.
// Hub.Publish relays a message to the subscribers (Hub.Subscribe) of
// every other worker, through the master.
//
// The master and a worker process talk over a Unix socketpair (the
// worker's descriptor 3), one JSON message per line: the configuration,
// readiness, stats, totals and published messages. Lifecycle commands
// travel as signals, as in nginx.
//
// # Goroutines
//
// Run's goroutine is the master loop: it owns the master's state and
// handles signals, reloads, upgrades, restarts and the stop, one at a
// time. Each worker process has two master goroutines, one reading its
// control channel (stats, totals requests, published messages) and one
// waiting for it to exit, which posts the exit to the loop. An
// in-process App is built, drained and stopped on goroutines of its own,
// and Hub.Totals calls its Stats on the caller's goroutine.
//
// In a worker process RunWorker's goroutine waits for signals and runs
// Drain, Stop and Reopen; one goroutine reads the control channel and
// calls Hub subscribers (which must not block long), and one sends the
// Stats every second, so App.Stats must be safe for concurrent use. In
// process = 0 mode a Publish calls the other Apps' subscribers on the
// publisher's goroutine.
package supervisor
