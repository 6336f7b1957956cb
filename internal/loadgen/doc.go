// Package loadgen is wharf-bench's library (cmd/wharf-bench is its command
// line): what every load subcommand shares, the HTTP/1.1 client bench, and
// the orchestration of hold, which keeps a million connections over many
// processes. Underneath are latency histograms that can be merged across
// goroutines and processes, counting errors by kind, parsing target and
// source address lists, the live progress line, the JSON result schema and
// its text form, and the Linux knobs a load generator needs (descriptor
// limit, resident memory, IP_BIND_ADDRESS_NO_PORT).
//
// It is internal: its only user is wharf-bench, and its API changes with it.
//
// # Benches
//
// A Bench is one load subcommand's run: wharf-bench parses its Flags
// (Options holds the shared ones: -addr, -c, -d, -n, -rate, -s, ...),
// calls Setup and Start, polls Count, Describe and Done during the
// measured window, then Halt and Finish, which fills a Result. A Bench
// embeds a Meter, which counts connections, exchanges and their latency
// and errors, spends the -n budget, paces -rate (Pace) and ends the run;
// Ring keeps the send times of a connection's requests in flight.
//
// Benches whose connections are net.Conns served by one goroutine each
// (http, kcp) run them with Streams: Dial and Serve per connection,
// redials with backoff, TopUp for pipelining under -n and -rate, and a
// bounded Finish. NewHTTP is the http subcommand: pipelined keep-alive
// requests read back with ReadResponse, an allocation-free HTTP/1.x
// response reader. A bench over another stream (TLS, WebSocket) is a Dial
// and a Serve of its own on Streams.
//
// # Hold
//
// HoldConfig is hold's flags. RunHold, in the parent, starts child
// processes (the same program, run with HoldConfig.Command), each holding
// its share of the connections on one engine with a heartbeat ping, and
// adds up the JSON lines they report once a second; RunHoldChild is the
// child side. How a child opens a connection is a HoldDialer, one per
// transport: DialTCP, or one that dials another stream and hands it to the
// engine.
//
// # Latency
//
// A Histogram is an HDR histogram of durations from 100 ns to one hour with
// three significant digits; a Recorder shards one over goroutines (one
// shard per event loop), each shard with its own lock, so recording from
// different loops never contends:
//
//	rec := loadgen.NewRecorder(loops)
//	rec.Record(c.Loop(), time.Since(sent)) // on the connection's loop
//	sum := rec.Snapshot().Summary()        // anywhere: p50, p90, p99, max in µs
//
// Sparse carries a Histogram between processes as [bucket, count] pairs of
// its non-empty buckets: a hold child Drains its Recorder once a second and
// writes the Sparse in its JSON report; the parent AddSparses it into one
// Histogram, exactly (no re-bucketing), because both run the same binary.
//
// # Errors by kind
//
// Kind maps a network error to a short stable word (refused, reset,
// timeout, eof, addr_not_avail, emfile, ...) and Counts counts by such
// names; the result lists them as "phase:kind" ("dial:refused",
// "drop:reset") so that nothing that went wrong is silent. DropReason
// names why an engine connection closed.
//
// # Addresses
//
// ParseAddrs reads -addr ("127.0.0.1:7000,127.0.0.1:7002") and ParseSources
// reads -src ("127.0.0.2-127.0.0.60", "127.0.0.2-60", "10.0.0.1,10.0.0.5").
// BindNoPort is the dialer Control that lets many connections share a source
// address: see its comment for why it matters at a million connections.
//
// # Output
//
// Result is the machine-readable outcome (`-json` prints it as one JSON
// object; Schema names its version) and WriteText its human form. Progress
// draws a live bar on a terminal and stays silent elsewhere.
package loadgen
