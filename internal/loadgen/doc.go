// Package loadgen holds the parts of wharf-bench (cmd/wharf-bench) that are
// not about one protocol: latency histograms that can be merged across
// goroutines and processes, counting errors by kind, parsing target and
// source address lists, the live progress line, the JSON result schema and
// its text form, and the Linux knobs a load generator needs (descriptor
// limit, resident memory, IP_BIND_ADDRESS_NO_PORT).
//
// It is internal: its only user is wharf-bench, and its API changes with it.
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
// "drop:reset") so that nothing that went wrong is silent.
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
