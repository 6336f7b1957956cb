package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"wharf/internal/loadgen"
)

// Exit statuses (see loadgen.ExitOK).
const (
	exitOK     = loadgen.ExitOK
	exitFailed = loadgen.ExitFailed
	exitUsage  = loadgen.ExitUsage
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		cancel() // first signal: stop gracefully and report
		<-sig
		fmt.Fprintln(os.Stderr, "wharf-bench: second signal, exiting at once")
		os.Exit(130) // hold children die with us (PR_SET_PDEATHSIG)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program: args are the command line without the program
// name. It returns the exit status. ctx ends the run early (as SIGINT does).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "echo":
		return runBench(ctx, cmd, rest, stdout, stderr, newEcho)
	case "packet":
		return runBench(ctx, cmd, rest, stdout, stderr, newPacket)
	case "http":
		return runBench(ctx, cmd, rest, stdout, stderr, func(o *loadgen.Options) loadgen.Bench { return loadgen.NewHTTP(o) })
	case "kcp":
		return runBench(ctx, cmd, rest, stdout, stderr, newKCP)
	case "fanout":
		return runBench(ctx, cmd, rest, stdout, stderr, newFanout)
	case "ws":
		return runBench(ctx, cmd, rest, stdout, stderr, newWS)
	case "hold":
		return runHold(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "wharf-bench: unknown subcommand %q\n\n", cmd)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: wharf-bench SUBCOMMAND [flags]

subcommands:
  echo    raw bytes to an echo server (examples/echo), pipelined with -depth
  packet  the packet protocol against wharfd: -mix ping, request or chat
  http    HTTP/1.1 keep-alive requests against -url, pipelined with -pipeline
  kcp     packet-protocol pings over KCP (-mode default|normal|fast)
  ws      packet-protocol pings over WebSocket (ws://ADDR/ws, wharf.packet.v1)
  hold    open and keep -c connections (a million), pinging every -heartbeat
  fanout  -c subscribers over -channels channels, a publisher at -rate a second
          (code 11, or the push API with -push-url): delivery latency and losses

Common flags: -addr HOST:PORT[,...] (-url for http), -c connections, -d duration,
-n requests, -rate per second, -s message size, -json, -max-errors.
Run "wharf-bench SUBCOMMAND -h" for a subcommand's flags; see "go doc wharf/cmd/wharf-bench".
`)
}
