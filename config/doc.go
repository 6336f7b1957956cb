// Package config loads and validates wharfd's configuration file, a TOML
// document, and prints the effective configuration back as TOML.
//
// wharfd calls Load(path) at start and on reload, `wharfd -t -c FILE` prints
// Load's error or "ok" and exits, and `wharfd -print-config` prints
// Config.TOML, which Load accepts back. The package imports nothing from
// the wharf module but the leaf package endpoint (listen addresses), and
// only holds and checks values; turning them into engine, server, logger or
// store settings is the caller's job.
//
// # The file
//
// Every key has a default and the empty file is valid. Unknown keys, in any
// table, are errors (with a did-you-mean for near misses), so a typo never
// silently leaves a default in place. A commented example with every key is
// in testdata/wharf.toml. Durations are strings with units, as
// time.ParseDuration reads them ("100ms", "30s", "1m30s", "168h"); a bare
// integer is rejected, because the unit would be a guess. Sizes are a number
// of bytes, or a string with a decimal (KB = 1000) or binary (KiB = 1024)
// unit: "16KiB", "64KB", "1MiB". Lists are TOML arrays; an empty list is
// nil in Config.
//
// Listen keys hold addresses in package endpoint's syntax, SCHEME://ADDRESS,
// as one string or a list of them: listen = "127.0.0.1:8080" and listen =
// ["127.0.0.1:8080", "unix:///run/wharf.sock"] are both valid. An address
// without a scheme takes the one its table implies: tcp in [server] and
// [http], udp in [kcp]. HOST is a name, an IPv4 address, an IPv6 address in
// brackets ("[::1]:7000") or empty for every interface; PORT is 0..65535;
// nothing may follow the port. The effective configuration (Config.TOML)
// prints every address with its scheme.
//
// Top-level keys (they must come before the first [table]):
//
//	processes      0         0: one process serves everything; N: a master and N
//	                         workers (SO_REUSEPORT); "auto": one worker per CPU.
//	                         0..1024 or "auto". Each worker's GOMAXPROCS is its
//	                         share of the CPUs (at least 1) unless set.
//	daemon         false     detach from the terminal
//	pid_file       ""        the master's pid file; "": none
//	data_dir       "./data"  wharfd's state (the SQLite database); not empty
//	drain_timeout  "30s"     how long old workers may drain on reload, upgrade
//	                         or graceful stop; "0s": close at once
//
// [server], the packet server:
//
//	listen                ["tcp://:7000"]  tcp://, tcp4://, tcp6:// HOST:PORT,
//	                                       unix:///path, tls://HOST:PORT (see
//	                                       [tls]), or HOST:PORT (tcp); at
//	                                       least one
//	engine                "reactor"        "reactor", "uring", "goroutine" or "auto"
//	loops                 0                event loops; 0: GOMAXPROCS
//	max_connections       65536            per worker; at least 1
//	max_connections_per_ip 1000            per source address (IPv4, IPv6 /64)
//	                                       and worker, TCP and KCP; 0: no cap
//	idle_timeout          "60s"            close a connection silent this long;
//	                                       "0s": never
//	flood_mode            "bucket"         flood guard: "bucket", "interval" or "off"
//	flood_rate            5000             bucket: packets/s a connection may sustain
//	flood_burst           5000             bucket: packets it may send at once
//	flood_interval        "100ms"          interval: flood_count packets in a row,
//	flood_count           10               each less than flood_interval apart, close
//	                                       the connection; interval "0s": off;
//	                                       count at least 2
//	max_pending_per_conn  400              unsent packets before a connection is
//	                                       closed; at most max_pending_total
//	max_pending_total     50000            unsent packets per worker before new
//	                                       ones are dropped
//	handlers              0                handler goroutines; 0: 4 × GOMAXPROCS
//	handler_queue         0                requests waiting for a handler before
//	                                       "overloaded"; 0: max(64 × handlers, 16384)
//	stats_interval        "10s"            stats log line period; "0s": off
//	max_packet            "16KiB"          largest packet, header included; 9..65535
//	max_bad_packets       3                bad-CRC packets before closing; at least 1
//
// [http], the HTTP/1.1 server:
//
//	listen               ["tcp://:8080"]  tcp://, tcp4://, tcp6:// HOST:PORT,
//	                                      unix:///path, tls://HOST:PORT
//	                                      (HTTPS, see [tls]), or HOST:PORT
//	                                      (tcp); [] disables
//	read_header_timeout  "10s"            "0s": no limit; at most read_timeout
//	read_timeout         "60s"            whole request; "0s": no limit
//	write_timeout        "60s"            response; "0s": no limit
//	idle_timeout         "120s"           keep-alive idle; "0s": no limit
//	max_header_bytes     "64KiB"          at least 1 byte
//	max_body_bytes       "1MiB"           at least 1 byte
//	max_connections      16384            per worker; at least 1
//	max_connections_per_ip 256            per source address and worker; past
//	                                      it 503; 0: no cap
//	handlers             0                bound on net/http handler goroutines
//	                                      (started on demand); 0: 4096
//	trusted_proxies      []               CIDRs or addresses whose X-Forwarded-For
//	                                      and X-Forwarded-Proto are believed
//
// [kcp], KCP over UDP:
//
//	listen         ["udp://:7001"]  udp://, udp4://, udp6:// HOST:PORT, or
//	                                HOST:PORT (udp); [] disables
//	mode           "fast"           "default" (nodelay 0, interval 10, resend 0, nc 0),
//	                                "normal" (0, 10, 0, 1) or "fast" (2, 10, 2, 1,
//	                                10 ms minimum RTO)
//	send_window    128              packets, 1..65535
//	recv_window    128              packets, 1..65535
//	mtu            1400             50..1500
//	max_sessions   10000            per worker; at least 1
//	cookies        "under_load"     new addresses echo a return-routability
//	                                cookie first: "under_load" (from a quarter
//	                                of max_sessions), "always" or "off
//	data_shards    0                FEC: both 0 (off) or both positive,
//	parity_shards  0                each at most 255, sum at most 256
//	key            ""               AES passphrase; "": no encryption (ikcp
//	                                wire-compatible)
//
// [admin], the operations listener (dashboard, /api/stats, /metrics,
// /healthz, /debug/pprof/; no login, keep it private):
//
//	listen  ["tcp://127.0.0.1:9090"]  as [http] listen; [] disables
//	pprof   false                     serve /debug/pprof/
//
// [tls], what every tls:// listener serves ([server] listen: the packet
// protocol over TLS; [http] listen: HTTPS). The files are read only when a
// listener is tls://; a tls:// listener needs cert and key:
//
//	cert               ""       PEM: the default certificate, then its
//	                            intermediates
//	key                ""       PEM: its private key
//	sni_certs          []       more certificates, chosen by the client's
//	                            server name (SNI): "CERT,KEY", or one PEM
//	                            file holding both
//	min_version        "1.2"    "1.2" or "1.3"
//	alpn               []       ALPN protocols the packet listeners offer
//	                            (HTTPS always offers "http/1.1")
//	client_ca          ""       PEM CA certificates packet clients must
//	                            present a certificate from (mutual TLS)
//	handshake_timeout  "10s"    a packet connection's handshake (HTTPS uses
//	                            http.read_header_timeout); at least 1ms
//
// [chat], the limits of the built-in chat (per address: an IPv4 address
// or an IPv6 /64; refusals are code 1 with retry_after, or HTTP 429):
//
//	register_per_ip                20         registrations an hour per address
//	register_rate                  0          registrations a second in all; 0: 5 per CPU
//	login_failures_per_ip          20         failed logins a minute per address
//	login_failures_per_user        10         ... per username and address
//	login_failures_per_user_total  100        ... per username, all addresses
//	say_burst                      10         messages a user may say at once
//	say_interval                   "1s"       ... and then one per interval
//	say_per_ip_burst               50         messages one address may say at once
//	say_per_ip_interval            "50ms"     ... and then one per interval
//	max_fanout                     2000000    deliveries a second per worker
//	login_wait                     "5s"       wait for a password-hashing slot
//	register_wait                  "1s"       ... registrations wait less, and
//	                                          logins go first
//
// Every count is at least 1 and every interval at least 1ms.
//
// [channels], the channels of the built-in application (packet/SPEC.md §8):
//
//	lobby                    "room:lobby"  the chat room of say (codes 7, 8) and the
//	                                       page's chat box; its namespace must be listed
//	history                  "auto"        "memory" (each process; lost on restart),
//	                                       "sql" (the accounts database; survives
//	                                       restarts), or "auto": "sql" with processes
//	                                       "auto" or above 1, else "memory"; "memory"
//	                                       with those is an error if any namespace
//	                                       keeps history
//	stream_ttl               "24h"         how long a channel's epoch outlives its last
//	                                       publication; at least 1s
//	max_data_size            "8KiB"        data of one publication or direct message;
//	                                       at most server.max_packet - 512
//	max_channels_per_conn    128           subscriptions of one connection
//	direct_messages          "users"       who sends direct messages: "users",
//	                                       "anyone" or "server" (the push API only)
//	publish_burst            50            publications a user may make at once
//	publish_interval         "100ms"       ... and then one per interval
//	publish_per_ip_burst     200           ... the same for one address
//	publish_per_ip_interval  "20ms"
//	namespace                (below)       [[channels.namespace]] tables; listing any
//	                                       replaces the defaults
//
// Each [[channels.namespace]] has name (required: a lower-case letter and
// up to 31 of a-z 0-9 _ -, or "" for names without ':'), subscribe and
// publish ("users", the default; "anyone"; "owner", the user whose ID is
// the channel's name; "server", the push API only), presence and
// join_leave (false; join_leave needs presence), history_size (0: none)
// and history_ttl ("24h" with a history), max_subscribers (0: no bound).
// The defaults are the default namespace (users may subscribe and publish),
// "room" (the same with presence, join/leave and the last 100 for 24 h)
// and "user" (owner subscribes, server publishes, the last 100 for 24 h).
// Lists of tables cannot be set from the environment.
//
// [jwt], connection tokens from the application's backend (off unless a
// key is set):
//
//	hmac_secret      ""    HS256/384/512 secret, at least 32 bytes
//	public_key_file  ""    PEM RSA, ECDSA or Ed25519 public key (RS*, PS*, ES*, EdDSA)
//	issuer           ""    the iss tokens must carry; "": any
//	audience         ""    an aud tokens must carry; "": any
//	leeway           "0s"  clock skew tolerated on exp, nbf, iat
//
// [push], the server push API (POST /api/publish, /api/broadcast) on the
// admin listener, or on the public one without it (off without keys):
//
//	keys          []       API keys ("Authorization: apikey KEY"), each at least
//	                       16 bytes
//	max_body      "64KiB"  request body bound (413 past it)
//	max_channels  100      channels of one broadcast; at most burst
//	rate          1000     publications a second per key (429 past it)
//	burst         2000     ... at once
//
// [log]:
//
//	level        "info"    "debug", "info", "warn" or "error"
//	format       "text"    "text" or "json"
//	file         ""        log file; "": standard error
//	async        false     write from a background goroutine
//	source       true      file:line in each line
//	max_size     "100MiB"  rotate at this size; 0: no size rotation; ignored
//	                       without a file
//	max_backups  7         rotated files kept; 0: all
//	max_age      "0s"      remove rotated files older than this ("168h" is a
//	                       week); "0s": keep forever
//	daily        false     also rotate at local midnight
//	on_full      "block"   async buffers full: "block" (wait) or "drop" (count)
//
// [database], the accounts store:
//
//	url             ""  "sqlite://PATH" or "postgres://USER:PASS@HOST/DB"
//	                    ("postgresql://" too); "": sqlite://<data_dir>/wharf.db
//	max_open_conns  0   pool size; 0: chosen per driver by the store
//
// [cluster], several nodes serving as one through a NATS server (package
// cluster); it needs database.url = "postgres://...", which every node
// shares:
//
//	broker          ""         "nats://HOST:PORT" (tls://, ws://, wss://), or
//	                           several separated by commas; "": one node
//	node_name       ""         unique per node: letters, digits, '_', '-', at
//	                           most 64; "": the host name; worker i of
//	                           processes = N is node_name-i
//	subject_prefix  "wharf"    starts every NATS subject: tokens of letters,
//	                           digits, '_' and '-' joined by '.'
//	heartbeat       "1s"       how often the node announces itself; at
//	                           least 10ms
//	dead_after      "3s"       silence after which the other nodes drop
//	                           this node's presence; at least 2 × heartbeat
//
// Listen addresses may not repeat: a TCP address (port 0 aside) or socket
// path may appear once across server.listen and http.listen, since with
// SO_REUSEPORT both binds would succeed and split connections between two
// protocols.
//
// # The environment
//
// Load applies WHARF_<TABLE>_<KEY> variables (WHARF_<KEY> for top-level
// keys) over the file: WHARF_SERVER_IDLE_TIMEOUT=30s, WHARF_PROCESSES=auto,
// WHARF_HTTP_LISTEN= (an empty list: HTTP off),
// WHARF_SERVER_LISTEN=tcp://:7000,:7002. Any other WHARF_ variable is
// an error, except WHARF_SUPERVISOR_* and WHARF_TEST_*, which wharfd uses
// internally. A bad value in the file is reported even when the environment
// overrides it. LoadOptions.Environ substitutes the environment in tests.
//
// # Errors
//
// Load and Parse report every problem at once, joined with errors.Join, each
// an *Error that says where the value came from:
//
//	wharf.toml:3:1: unknown key "sever" (did you mean "server"?)
//	wharf.toml:12:1: server.idle_timeout: invalid duration "6os" (want a number with a unit: ...)
//	wharf.toml:20:1: kcp.mtu: 9000 is out of range (50..1500)
//	wharf.toml:9:1: server.max_pending_total: 300 must be at least server.max_pending_per_conn (400, default)
//	wharf.toml:14:11: http.listen[1]: "tcp://:8080/x": unexpected "/x" after the port
//	wharf.toml:15:1: kcp.listen: "7001": missing port: write ":7001" for port 7001 on every interface
//	server.engine: "epoll" is not "reactor", "goroutine", "uring" or "auto" (from WHARF_SERVER_ENGINE)
//
// A problem between two keys is reported on the one set more deliberately
// (the environment over the file over a default), and notes where the other
// came from. Errors never echo database.url, which may hold a password.
// errors.Is classifies problems: ErrSyntax, ErrUnknownKey, ErrType, ErrValue,
// ErrUnknownEnv.
//
// # Concurrency
//
// Every function may be called from any goroutine; Config is a plain value
// owned by whoever holds it.
package config
