// Command wharf-bench is wharf's load generator (SPEC §7): it drives echo
// servers, wharfd's packet protocol, HTTP/1.1 servers and KCP, and it opens
// and holds a million connections.
//
//	wharf-bench echo   [flags]   raw bytes to an echo server
//	wharf-bench packet [flags]   the packet protocol (ping, requests, the chat app)
//	wharf-bench http   [flags]   HTTP/1.1 keep-alive, pipelined
//	wharf-bench kcp    [flags]   packet pings over KCP
//	wharf-bench hold   [flags]   open and keep -c connections with heartbeats
//	wharf-bench fanout [flags]   -c subscribers of -channels channels, a publisher at -rate
//
// # Common flags
//
//	-addr HOST:PORT[,HOST:PORT...]  targets; connection i goes to address i mod count (-url for http)
//	-c N          connections (hold: the number to hold)
//	-d DURATION   measured time, after the connections are set up (hold: the hold
//	              phase after every connection is up); 0: until -n or Ctrl-C
//	-n N          stop after N requests
//	-rate R       requests per second over all connections, paced per connection
//	              (hold: new connections per second)
//	-s BYTES      message size (echo), body size (packet -mix request, http),
//	              say text length (packet -mix chat)
//	-src IPS      source addresses: 127.0.0.2-127.0.0.60, 127.0.0.2-60 or a list
//	-timeout D    bound on each dial and each reply (hold: each pong)
//	-json         one JSON object on stdout (the text summary goes to stderr)
//	-max-errors N exit with status 1 when more than N errors occur (-1: never)
//	-q            no live progress line
//	-tls          connect over TLS (echo, packet: a tls:// listener; http: also
//	              implied by an https:// -url), the server's certificate verified
//	              (no session cache: every connection makes a full handshake);
//	              failed handshakes are errors tls:REASON
//	-tls-ca FILE  the CA (or wharfd -gen-cert's certificate) to verify with;
//	              default: the system's roots
//	-tls-insecure do not verify (tests only)
//	-tls-server-name NAME  the name to ask for (SNI) and verify; default: the
//	              host of the first -addr
//
// On a terminal, stderr shows a live progress line. Every run ends with a
// summary: throughput, latency p50/p90/p99/p99.9/max from an HDR histogram
// (send to reply, per request), connections opened, failed, dropped and
// redialed, and errors by kind. Exit status: 0 when the run met its
// thresholds, 1 when errors exceeded -max-errors (default 0: any error), no
// request completed, or hold fell short of -c, 2 when it could not run (bad
// flags, a child that would not start). With -json the result carries the
// same numbers for scripts (see below).
//
// # echo
//
// Sends -s bytes and counts the same number of bytes back, -depth messages in
// flight per connection (1: ping-pong). The connections run on a wharf engine
// in this process (one event loop per CPU, or -loops), so the generator costs
// little per message; each connection keeps the send times of its messages in
// flight in a small ring.
//
//	go run ./examples/echo -addr tcp://127.0.0.1:9000 &
//	wharf-bench echo -addr 127.0.0.1:9000 -c 100 -s 64 -d 10s
//	wharf-bench echo -addr 127.0.0.1:9000 -c 100 -s 64 -depth 16 -d 10s
//	wharf-bench echo -addr 127.0.0.1:9000 -c 1000 -s 512 -n 1000000 -d 0 -json
//
// # packet
//
// Speaks the packet protocol (SPEC §2) on the engine. -mix ping (the default)
// sends pings (code 0), which wharfd answers on its event loop; -mix request
// sends -code with an -s byte body, for a router of your own that answers it
// with the same code; -mix chat runs wharfd's demo application: each
// connection registers user PREFIXn (-prefix, -user-offset; a user left by an
// earlier run is logged in anyway), logs in, then sends says and pings in the
// ratio -say-ratio. Replies are matched in order per code (pings are
// answered ahead of queued requests, so they have their own queue). Every say
// is pushed (code 8) to every logged-in connection: pushes are counted and
// read, and reported with their rate. Register and login cost a bcrypt hash
// each (tens of milliseconds of server CPU), so they are reported apart
// (logins: count, rate, latency) and the window starts once every
// connection has logged in.
//
// wharfd's flood guard closes a connection that sends more than
// [server] flood_burst packets at once or flood_rate packets/s sustained
// (defaults 5000 and 5000, above what an unpaced run sends per connection
// with the default -c on loopback). Where the limits are lowered (or
// flood_mode = "interval", seed 002's 10 packets in a row each less than
// 100ms apart), an unpaced run trips it: raise them, set flood_mode = "off",
// or pace with -rate. When the server closes connections, the summary says
// so and gives this hint.
//
//	wharf-bench packet -addr 127.0.0.1:7000 -c 100 -depth 8 -d 10s
//	wharf-bench packet -addr 127.0.0.1:7000 -c 50 -rate 400            # under the flood guard
//	wharf-bench packet -addr 127.0.0.1:7000 -mix chat -c 200 -say-ratio 0.1 -s 32 -d 20s
//
// # http
//
// HTTP/1.1 requests to -url on keep-alive connections, -pipeline requests in
// flight per connection, written back to back (net/http's client cannot
// pipeline). Responses are framed by Content-Length or chunked coding and
// their bodies discarded; status codes are counted (4xx and 5xx also as
// errors). A connection the server closes is redialed. -method, -H
// "Name: value" (repeatable) and -s (a body) shape the request; -addr
// connects elsewhere than the URL's host.
//
//	go run ./examples/hello -addr tcp://127.0.0.1:8080 &
//	wharf-bench http -url http://127.0.0.1:8080/ -c 50 -d 10s
//	wharf-bench http -url http://127.0.0.1:8080/ -c 50 -pipeline 16 -d 10s -json
//
// # kcp
//
// Pings over KCP sessions (package kcp, one UDP socket each), -depth in
// flight, -mode default|normal|fast as the server's [kcp] mode. KCP has no
// close handshake: a session the server dropped shows as pongs that stop
// (drop:reply_timeout after -timeout), and is redialed.
//
//	wharf-bench kcp -addr 127.0.0.1:7001 -mode fast -c 20 -d 10s
//
// # ws
//
// Pings over WebSocket: the packet protocol at ws://ADDR/ws (-path) with the
// subprotocol wharf.packet.v1, each write one binary message, -depth in
// flight, -compress to offer permessage-deflate, -src to bind source
// addresses. -addr is wharfd's HTTP port.
//
//	wharf-bench ws -addr 127.0.0.1:8080 -c 100 -d 10s
//
// # hold
//
// Opens -c connections to wharfd's packet port(s), at -rate new connections
// per second, and keeps them: each pings (code 0) every -heartbeat, first at
// a random point of the first period so that pings spread evenly, and a ping
// unanswered for -timeout closes the connection (drop pong_timeout). After
// every connection is up, it holds them for -d (0: until SIGINT/SIGTERM),
// then closes them at -close-rate per second (default -rate: closing a
// million sockets at once is what snowballs a server) and reports.
//
// -transport ws holds WebSocket connections instead (-addr is then the HTTP
// port, -ws-path the endpoint): each is a goroutine-driven WebSocket client
// served on the child's engine (engine.Engine.ServeConn), so it costs a
// goroutine and the client's buffers, several KiB, where a TCP connection
// costs the engine's few hundred bytes.
//
// The connections are spread over child processes: -procs auto runs
// ceil(-c / -per-proc) of them, the budget being the descriptor limit
// (RLIMIT_NOFILE, soft raised to hard at start) less 1000, so 19000 under
// this project's limit of 20000. Each child is this binary again, runs one
// engine with -loops event loops and -dialers concurrent dials, and keeps
// about 16 bytes of its own per connection beside the engine's; a
// connection has no goroutine and no buffer of its own. Children report to
// the parent once a second over a pipe (JSON lines: connected, connecting,
// pings, pongs and a latency histogram, reconnects, drops by reason, dial
// errors by kind, RSS). They never outlive it: PR_SET_PDEATHSIG kills them
// if it dies, they exit when their pipe from it closes, and they run in their
// own process group, so Ctrl-C reaches the parent only, which then stops them
// in order (a second Ctrl-C exits at once).
//
// Connections spread over the targets (-addr a list) and, for each target,
// over the source addresses (-src), and every socket gets
// IP_BIND_ADDRESS_NO_PORT before it binds: a source address then has the
// ephemeral ports of ip_local_port_range (about 28,000) per target address
// and port, not in all. A million connections to one port thus need about 36
// source addresses; 127.0.0.2-127.0.0.60 gives 59.
//
// Nothing drops silently: every close of a held connection is counted with
// its reason (server_closed: the server closed it, a kick or max_connections;
// server_shutdown: it said so first; reset; pong_timeout; protocol; ...),
// and with -reconnect (the default) redialed after a jittered exponential
// backoff (100ms doubling up to -backoff), paced with the ramp. The summary
// lists peak and final connections held, the time to reach -c, pings, pongs
// and their latency, reconnects, every drop and dial error by kind, and per
// child the RSS before dialing and at the end, with the bytes per connection.
//
//	wharf-bench hold -addr 127.0.0.1:7000 -c 20000 -d 60s
//	wharf-bench hold -addr 127.0.0.1:7000,127.0.0.1:7002 -src 127.0.0.2-127.0.0.60 \
//	        -c 1000000 -rate 20000 -heartbeat 30s -d 10m -json > hold.json
//
// A million connections also need, on the server's side, descriptors and
// max_connections for them (wharfd with processes = N workers, each under
// its own limit), and on the machine: fs.file-max and fs.nr_open above the
// total, net.core.somaxconn for the ramp's bursts, net.ipv4.tcp_mem for the
// socket buffers (seed 004 §2.2.1). The hints in the summary name the limit
// behind each kind of failure.
//
// # fanout
//
// Opens -c subscriber connections to wharfd's packet port, each subscribed
// (code 9) to -k of -channels channels named -prefix0, -prefix1, ...
// (subscriber i to channels (i·k + m) mod channels), then publishes -rate
// publications a second (-n in all, or until -d), round robin over the
// channels: with code 11 on a connection of its own, or through the push
// API with -push-url (the admin listener) and -push-key. Each
// publication's data is {"t": <send time>, "p": "<padding>"}, -s bytes in
// all (100 by default), so each delivery (code 12) gives its publish to
// delivery latency: "requests" and "latency" are the deliveries, and
// "requests_per_s" the deliveries a second. After the last publication it
// waits up to -grace for the deliveries still on their way, then compares
// them with what the accepted publications owed: "fanout" ({"channels",
// "subscribers", "publications", "refused", "expected", "delivered",
// "lost", "gaps", "duplicates", "deliveries_ps"}); lost deliveries count as
// errors (fanout:lost). In a namespace with history, an offset a
// subscriber skips is a gap, one it sees twice a duplicate.
//
// The namespace must let the connections in: anonymous ones by default
// (subscribe and publish "anyone", or publish "server" with -push-url), or
// users with -jwt-secret, which logs every connection in with a JWT (sub
// bench-N) signed with wharfd's [jwt] hmac_secret. The publisher is held to
// the server's limits: [channels] publish_* for code 11, [push] rate and
// burst for the push API, [chat] max_fanout for both (deliveries a second).
// -rate 0 publishes nothing: the subscribers just stay, for memory
// measurements; several processes with -first give each its range of
// subscribers (one process holds at most its descriptor limit).
//
//	wharf-bench fanout -addr 127.0.0.1:7000 -c 10000 -channels 1 -rate 100 -d 30s
//	wharf-bench fanout -addr 127.0.0.1:7000 -c 10000 -rate 100 -d 30s \
//	        -push-url http://127.0.0.1:9090 -push-key KEY
//	wharf-bench fanout -addr 127.0.0.1:7000 -c 20000 -first 20000 -channels 10000 -k 10 -rate 0 -d 5m
//
// # JSON result
//
// With -json, stdout carries exactly one JSON object (schema "wharf-bench/1",
// type loadgen.Result in wharf/internal/loadgen):
//
//	{"schema": "wharf-bench/1", "command": "echo", "targets": ["127.0.0.1:9000"],
//	 "options": {"c": "100", ...every flag...}, "started": "2025-...Z",
//	 "setup_s": 0.03, "elapsed_s": 10.0,
//	 "connections": {"target": 100, "opened": 100, "failed": 0, "dropped": 0, "reconnects": 0, "peak": 100},
//	 "requests": 1234567, "requests_per_s": 123456.7, "bytes_sent": 79012288, "bytes_received": 79012288,
//	 "latency": {"count": 1234567, "min_us": 20.1, "mean_us": 80.3, "p50_us": 75.2, "p90_us": 110.1,
//	             "p99_us": 190.4, "p999_us": 450.0, "max_us": 2100.0},
//	 "errors": {"total": 0, "max_allowed": 0, "by_kind": {}},
//	 "ok": true, "exit_code": 0}
//
// Error kinds are "phase:what": dial:refused, dial:timeout,
// dial:addr_not_avail, dial:emfile, drop:server_closed, drop:reset,
// drop:pong_timeout, server:overloaded, http:5xx, login:refused, ... http
// adds "status_codes" ({"200": 123}); packet -mix chat adds "logins"
// ({"registered", "existing", "logged_in", "failed", "duration_s", "per_s",
// "latency"}) and "pushes" ({"count", "per_s", "bytes"}); fanout adds
// "fanout" (above); hold adds "hold"
// ({"target", "reached", "time_to_target_s", "held_s", "peak", "final",
// "procs", "sources", "heartbeat_s", "pings", "pongs", "skipped_heartbeats",
// "reconnects", "drops": {reason: n}, "dial_errors": {kind: n}, "children":
// [{"index", "pid", "target", "peak", "final", "rss_bytes",
// "base_rss_bytes", "rss_bytes_per_conn", "exit"}]}), with "latency" the
// ping round trip and "requests" the pongs. "hints" lists advice when
// something went wrong.
package main
