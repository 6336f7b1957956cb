package config

import (
	"os"
	"strings"
	"time"

	"wharf/endpoint"
	"wharf/internal/subject"
)

// Config is wharfd's configuration: the top-level keys, then one struct per
// table. Each field's toml tag is its key; its comment gives the default and
// the meaning (the package documentation has the full list with the
// allowed ranges). Config is a plain value: copy it freely, compare two with
// reflect.DeepEqual (an empty list is always nil). Nothing in this package
// keeps a reference to a Config it returns.
type Config struct {
	// Processes is 0 (default): one process serves everything; N: a master
	// and N workers sharing the listeners with SO_REUSEPORT; ProcessesAuto
	// ("auto"): one worker per CPU.
	Processes Processes `toml:"processes"`

	// Daemon detaches wharfd from the terminal. Default false.
	Daemon bool `toml:"daemon"`

	// PIDFile is where the master writes its pid (removed on exit); wharfd
	// -s finds the master through it. Default "": no pid file.
	PIDFile string `toml:"pid_file"`

	// DataDir holds wharfd's state, by default the SQLite database. Relative
	// to the working directory. Default "./data".
	DataDir string `toml:"data_dir"`

	// DrainTimeout is how long old workers may keep serving their
	// connections after a reload, binary upgrade or graceful stop before
	// they are closed. 0 closes them at once. Default 30s.
	DrainTimeout Duration `toml:"drain_timeout"`

	Server   Server   `toml:"server"`
	HTTP     HTTP     `toml:"http"`
	KCP      KCP      `toml:"kcp"`
	Admin    Admin    `toml:"admin"`
	TLS      TLS      `toml:"tls"`
	Chat     Chat     `toml:"chat"`
	Channels Channels `toml:"channels"`
	JWT      JWT      `toml:"jwt"`
	Push     Push     `toml:"push"`
	Log      Log      `toml:"log"`
	Database Database `toml:"database"`
	Cluster  Cluster  `toml:"cluster"`
}

// Server is the [server] table: the packet server (SPEC §3).
type Server struct {
	// Listen lists the packet listeners (package endpoint's syntax):
	// "tcp://HOST:PORT", "tcp4://...", "tcp6://...", "unix:///path",
	// "tls://HOST:PORT" (the packet protocol over TLS, see [tls]), or a
	// bare "HOST:PORT", which is tcp. In the file a single string is a
	// list of one. At least one. Default ["tcp://:7000"].
	Listen []endpoint.Addr `toml:"listen" schemes:"tcp,tcp4,tcp6,unix,tls"`

	// Engine is "reactor" (default: epoll event loops), "uring" (the same
	// loops on io_uring, falling back to reactor where it is unavailable),
	// "goroutine" (one goroutine per connection, same API) or "auto" (the
	// fastest under load: "uring" where it runs, else "reactor").
	Engine string `toml:"engine"`

	// Loops is the number of event loops. Default 0: GOMAXPROCS.
	Loops int `toml:"loops"`

	// MaxConnections caps open connections per worker; beyond it new
	// connections are closed at once and counted. Default 65536.
	MaxConnections int `toml:"max_connections"`

	// MaxConnectionsPerIP caps the open packet connections (TCP and KCP
	// together) of one source address, an IPv4 address or an IPv6 /64,
	// per worker; past it a new connection gets a code 1 notice and is
	// closed. 0 disables the cap. Default 1000 (raise it for load tests
	// from few addresses, and for clients behind carrier-grade NAT).
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`

	// IdleTimeout closes a connection that sends no packet for this long;
	// any packet resets it. 0 disables the check. Default 60s.
	IdleTimeout Duration `toml:"idle_timeout"`

	// FloodMode selects the flood guard: "bucket" (the default), a token
	// bucket of FloodRate packets/s sustained and FloodBurst at once per
	// connection; "interval", seed 002's rule (FloodCount packets in a row
	// each less than FloodInterval after the previous one); or "off".
	FloodMode  string `toml:"flood_mode"`
	FloodRate  int    `toml:"flood_rate"`
	FloodBurst int    `toml:"flood_burst"`
	// FloodInterval and FloodCount are the "interval" mode's; there
	// FloodInterval 0 disables the guard. Defaults 100ms and 10; FloodCount
	// is at least 2.
	FloodInterval Duration `toml:"flood_interval"`
	FloodCount    int      `toml:"flood_count"`

	// MaxPendingPerConn closes a connection whose unsent backlog exceeds
	// this many packets (a slow or malicious reader). Default 400; at most
	// MaxPendingTotal.
	MaxPendingPerConn int `toml:"max_pending_per_conn"`

	// MaxPendingTotal caps unsent packets over all connections of a worker;
	// above it new outbound packets are dropped and counted. Default 50000.
	MaxPendingTotal int `toml:"max_pending_total"`

	// Handlers is the number of handler goroutines. Default 0:
	// 4 × GOMAXPROCS.
	Handlers int `toml:"handlers"`

	// HandlerQueue is how many requests may wait for a handler before new
	// ones are answered with code 1 "overloaded". Default 0:
	// max(64 × handlers, 16384).
	HandlerQueue int `toml:"handler_queue"`

	// StatsInterval is the period of the stats log line. 0 disables it.
	// Default 10s.
	StatsInterval Duration `toml:"stats_interval"`

	// MaxPacket is the largest packet, header included, from 9 bytes to
	// 65535 (the length field is 16 bits). Default 16KiB.
	MaxPacket Size `toml:"max_packet"`

	// MaxBadPackets closes a connection after this many packets with a bad
	// CRC. Default 3; at least 1.
	MaxBadPackets int `toml:"max_bad_packets"`
}

// HTTP is the [http] table: the HTTP/1.1 server and web app (SPEC §5).
type HTTP struct {
	// Listen lists the HTTP listeners: "tcp://HOST:PORT" (also tcp4://
	// and tcp6://), "unix:///path", "tls://HOST:PORT" (HTTPS, see [tls]),
	// or a bare "HOST:PORT", which is tcp. In the file a single string is
	// a list of one. Empty disables HTTP. Default ["tcp://:8080"].
	Listen []endpoint.Addr `toml:"listen" schemes:"tcp,tcp4,tcp6,unix,tls"`

	// ReadHeaderTimeout bounds reading a request's header (slowloris).
	// 0: no limit. Default 10s; at most ReadTimeout when that is set.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`

	// ReadTimeout bounds reading a whole request, body included. 0: no
	// limit. Default 60s.
	ReadTimeout Duration `toml:"read_timeout"`

	// WriteTimeout bounds writing a response. 0: no limit. Default 60s.
	WriteTimeout Duration `toml:"write_timeout"`

	// IdleTimeout closes a keep-alive connection idle this long between
	// requests. 0: no limit. Default 120s.
	IdleTimeout Duration `toml:"idle_timeout"`

	// MaxHeaderBytes caps a request's header block. Default 64KiB; more
	// than 0.
	MaxHeaderBytes Size `toml:"max_header_bytes"`

	// MaxBodyBytes caps a request body. Default 1MiB; more than 0.
	MaxBodyBytes Size `toml:"max_body_bytes"`

	// MaxConnections caps open HTTP connections per worker; past it new
	// ones are closed at accept and counted. Default 16384.
	MaxConnections int `toml:"max_connections"`

	// MaxConnectionsPerIP caps the open HTTP connections of one source
	// address (after trusted_proxies do not apply: the TCP peer) per
	// worker; past it a new one is answered 503. 0 disables it. Default 256.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`

	// Handlers bounds the goroutines running net/http handlers; they
	// start as requests need them and exit when idle. Each open dashboard
	// or chat view (an event stream) holds one. Default 0: 4096.
	Handlers int `toml:"handlers"`

	// TrustedProxies lists the proxies, as CIDRs ("10.0.0.0/8") or single
	// addresses, whose X-Forwarded-For and X-Forwarded-Proto headers are
	// believed (for rate limiting and Secure cookies). Default []: none.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Admin is the [admin] table: the operations listener. It serves the
// dashboard (statistics and live charts), /api/stats, /metrics, /healthz
// and, with pprof, /debug/pprof/, with no login: whoever reaches it is an
// operator, so keep it on loopback or a private network. The public HTTP
// listener serves none of these but /healthz.
type Admin struct {
	// Listen lists the admin listeners, as [http] listen. Empty disables
	// them. Default ["tcp://127.0.0.1:9090"].
	Listen []endpoint.Addr `toml:"listen" schemes:"tcp,tcp4,tcp6,unix"`

	// Pprof serves the Go runtime's profiles under /debug/pprof/ (go tool
	// pprof http://127.0.0.1:9090/debug/pprof/heap). Default false.
	Pprof bool `toml:"pprof"`
}

// Chat is the [chat] table: the limits of the built-in chat application
// (packet/SPEC.md §6). A refusal is a code 1 reply with retry_after on the
// packet protocol and a 429 with Retry-After on HTTP. "Per address" means
// per IPv4 address or IPv6 /64.
type Chat struct {
	// RegisterPerIP bounds registrations an hour from one address. Default 20.
	RegisterPerIP int `toml:"register_per_ip"`
	// RegisterRate bounds registrations a second from every address
	// together (bursts of twice that), so that a storm from many addresses
	// cannot keep the password hashing busy. Default 0: 5 per CPU.
	RegisterRate int `toml:"register_rate"`
	// LoginFailuresPerIP, LoginFailuresPerUser and LoginFailuresPerUserTotal
	// bound failed logins a minute: from one address, for one username from
	// one address, and for one username from everywhere. Defaults 20, 10
	// and 100.
	LoginFailuresPerIP        int `toml:"login_failures_per_ip"`
	LoginFailuresPerUser      int `toml:"login_failures_per_user"`
	LoginFailuresPerUserTotal int `toml:"login_failures_per_user_total"`
	// SayBurst and SayInterval: a user may say SayBurst messages at once and
	// one per SayInterval sustained. Defaults 10 and "1s".
	SayBurst    int      `toml:"say_burst"`
	SayInterval Duration `toml:"say_interval"`
	// SayPerIPBurst and SayPerIPInterval are the same for one address,
	// whoever is logged in there. Defaults 50 and "50ms" (20 a second).
	SayPerIPBurst    int      `toml:"say_per_ip_burst"`
	SayPerIPInterval Duration `toml:"say_per_ip_interval"`
	// MaxFanout bounds deliveries a second per worker (messages said times
	// the connections they reach). Default 2000000.
	MaxFanout int `toml:"max_fanout"`
	// LoginWait and RegisterWait bound how long a login or a registration
	// waits for a password-hashing slot (logins go first) before it is
	// refused as too busy. Defaults "5s" and "1s".
	LoginWait    Duration `toml:"login_wait"`
	RegisterWait Duration `toml:"register_wait"`
}

// KCP is the [kcp] table: the KCP transport over UDP (SPEC §6).
type KCP struct {
	// Listen lists the KCP listeners: "udp://HOST:PORT", "udp4://...",
	// "udp6://...", or a bare "HOST:PORT", which is udp. In the file a
	// single string is a list of one. Empty disables KCP. Default
	// ["udp://:7001"].
	Listen []endpoint.Addr `toml:"listen" schemes:"udp,udp4,udp6"`

	// Mode is the ikcp_nodelay preset (nodelay, interval, resend, nc):
	// "default" (0, 10, 0, 0), "normal" (0, 10, 0, 1) or "fast" (2, 10,
	// 2, 1 with a 10 ms minimum RTO). Default "fast".
	Mode string `toml:"mode"`

	// SendWindow and RecvWindow are the window sizes in packets, 1 to
	// 65535. Defaults 128.
	SendWindow int `toml:"send_window"`
	RecvWindow int `toml:"recv_window"`

	// MTU is the largest UDP payload KCP sends, 50 to 1500. Default 1400.
	MTU int `toml:"mtu"`

	// MaxSessions caps KCP sessions per worker. Default 10000.
	MaxSessions int `toml:"max_sessions"`

	// Cookies says when a new address must echo a return-routability
	// cookie before it may open a session, so that forged source addresses
	// cannot fill the table: "under_load" (from a quarter of max_sessions,
	// the default), "always" or "off". Plain mode only (no FEC, no key).
	Cookies string `toml:"cookies"`

	// DataShards and ParityShards configure Reed-Solomon FEC: both 0 (off,
	// the default) or both positive with a sum of at most 256. FEC breaks
	// wire compatibility with plain ikcp.
	DataShards   int `toml:"data_shards"`
	ParityShards int `toml:"parity_shards"`

	// Key is a passphrase from which the AES key is derived. Default "":
	// no encryption, wire-compatible with ikcp.
	Key string `toml:"key"`
}

// Channels is the [channels] table: the channels of the built-in
// application (packet/SPEC.md §8), their namespaces, history and limits.
type Channels struct {
	// Lobby is the channel the chat of codes 7 and 8 and the web page's
	// chat box use: say publishes there. Its namespace must be listed.
	// Default "room:lobby".
	Lobby string `toml:"lobby"`

	// History is where channels keep their recent publications: "memory"
	// (in each process, lost on restart, so clients resync), "sql" (in the
	// accounts database, [database] url: survives restarts) or "auto" (the
	// default): "memory" for one process, "sql" with processes "auto" or
	// above 1, whose workers must agree on offsets, so "memory" with
	// those is an error. See ResolvedHistory.
	History string `toml:"history"`

	// StreamTTL is how long a channel's history (its epoch and offsets)
	// outlives its last publication; past it the next publication starts a
	// new epoch. At least every namespace's history_ttl. Default "24h".
	StreamTTL Duration `toml:"stream_ttl"`

	// MaxDataSize bounds the data of one publication or direct message.
	// Default "8KiB"; at most "16KiB" (it travels in one packet).
	MaxDataSize Size `toml:"max_data_size"`

	// MaxChannelsPerConn bounds one connection's subscriptions. Default 128.
	MaxChannelsPerConn int `toml:"max_channels_per_conn"`

	// DirectMessages says who may send direct messages (code 17): "users"
	// (default: logged-in connections), "anyone", or "server" (only the
	// push API).
	DirectMessages string `toml:"direct_messages"`

	// PublishBurst and PublishInterval: one user may publish (and send
	// direct messages) PublishBurst times at once and once per
	// PublishInterval sustained; PublishPerIPBurst and
	// PublishPerIPInterval are the same for one address. Defaults 50 and
	// "100ms", 200 and "20ms". [chat] max_fanout bounds them with say.
	PublishBurst         int      `toml:"publish_burst"`
	PublishInterval      Duration `toml:"publish_interval"`
	PublishPerIPBurst    int      `toml:"publish_per_ip_burst"`
	PublishPerIPInterval Duration `toml:"publish_per_ip_interval"`

	// Namespaces are the namespaces, written [[channels.namespace]]; a
	// channel of a namespace not listed is refused. A file that lists any
	// replaces the defaults: the default namespace (name ""), "room" and
	// "user" (see Default).
	Namespaces []Namespace `toml:"namespace"`
}

// Namespace is one [[channels.namespace]]: the rules of the channels
// "name:...". Keys left out take the defaults in the comments.
type Namespace struct {
	// Name is a lower-case letter, then up to 31 of [a-z0-9_-]; "" is the
	// default namespace (names without ':'). Required (may be "").
	Name string `toml:"name"`
	// Subscribe and Publish say who may subscribe (and read presence and
	// history) and who may publish: "users" (default: logged-in
	// connections), "anyone", "owner" (only the user whose ID is the
	// channel's name, as in user:42) or "server" (only the push API).
	Subscribe string `toml:"subscribe"`
	Publish   string `toml:"publish"`
	// Presence keeps who is subscribed; JoinLeave (which needs it) sends
	// join and leave events. Defaults false.
	Presence  bool `toml:"presence"`
	JoinLeave bool `toml:"join_leave"`
	// HistorySize is how many recent publications each channel keeps
	// (0, the default: none, and no recovery); HistoryTTL how long, default
	// "24h" with a history.
	HistorySize int      `toml:"history_size"`
	HistoryTTL  Duration `toml:"history_ttl"`
	// MaxSubscribers bounds a channel's subscribers per worker; 0 (the
	// default) is no bound.
	MaxSubscribers int `toml:"max_subscribers"`
}

// defaults gives a [[channels.namespace]] the defaults of the keys it
// leaves out.
func (ns *Namespace) defaults() { ns.Subscribe, ns.Publish = "users", "users" }

// JWT is the [jwt] table: JSON Web Tokens with which an application's own
// backend logs its users in (packet code 6 {"token": JWT}), without
// accounts in wharfd's database: sub is the user, exp ends the login, and
// an optional channels claim subscribes the connection. Off unless a key
// is set.
type JWT struct {
	// HMACSecret verifies HS256, HS384 and HS512 tokens; at least 32
	// bytes. Default "": none.
	HMACSecret string `toml:"hmac_secret"`
	// PublicKeyFile is a PEM file of an RSA, ECDSA or Ed25519 public key
	// that verifies RS*, PS*, ES* or EdDSA tokens. Default "": none.
	PublicKeyFile string `toml:"public_key_file"`
	// Issuer and Audience, when set, must be a token's iss and among its
	// aud. Default "": not checked.
	Issuer   string `toml:"issuer"`
	Audience string `toml:"audience"`
	// Leeway tolerates clock skew on exp, nbf and iat. Default "0s".
	Leeway Duration `toml:"leeway"`
}

// Push is the [push] table: the server-side push API (POST /api/publish
// and /api/broadcast) for the application's backend, on the admin
// listener (or, without one, on the public HTTP listener). Off without
// keys.
type Push struct {
	// Keys are the API keys the backend presents ("Authorization: apikey
	// KEY"), each at least 16 bytes. Default []: the push API is off.
	Keys []string `toml:"keys"`
	// MaxBody bounds a request body. Default "64KiB".
	MaxBody Size `toml:"max_body"`
	// MaxChannels bounds the channels of one broadcast. Default 100; at
	// most burst.
	MaxChannels int `toml:"max_channels"`
	// Rate and Burst bound one key's publications a second, sustained and
	// at once (a broadcast counts one per channel); past them 429.
	// Defaults 1000 and 2000.
	Rate  int `toml:"rate"`
	Burst int `toml:"burst"`
}

// TLS is the [tls] table: what every tls:// listener serves, packet
// ([server] listen) and HTTPS ([http] listen). The files are read at start
// and at each reload (HUP): new connections get the new certificates.
type TLS struct {
	// Cert and Key are PEM files: the default certificate (followed by
	// its intermediates) and its private key. Required when a listener is
	// tls://. Default "".
	Cert string `toml:"cert"`
	Key  string `toml:"key"`

	// SNICerts lists more certificates. A client gets the first whose
	// names cover the server name it asks for (SNI), else the default
	// one. Each entry is "CERT,KEY" (two PEM files) or one PEM file
	// holding the chain and the key. Default [].
	SNICerts []string `toml:"sni_certs"`

	// MinVersion is the lowest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `toml:"min_version"`

	// ALPN lists the application protocols the packet listeners offer,
	// most preferred first. HTTPS always offers "http/1.1". Default [].
	ALPN []string `toml:"alpn"`

	// ClientCA is a PEM file of CA certificates. When set, packet clients
	// on tls:// must present a certificate one of them issued (mutual
	// TLS, for IoT gateways); HTTPS asks for none. Default "": no client
	// certificates.
	ClientCA string `toml:"client_ca"`

	// HandshakeTimeout bounds a packet connection's TLS handshake (HTTPS
	// uses http.read_header_timeout). Default 10s; at least 1ms.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
}

// SNIPair splits a tls.sni_certs entry into its certificate and key
// files: "CERT,KEY", or one file holding both.
func SNIPair(entry string) (cert, key string) {
	if c, k, ok := strings.Cut(entry, ","); ok {
		return strings.TrimSpace(c), strings.TrimSpace(k)
	}
	return entry, entry
}

// Log is the [log] table.
type Log struct {
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `toml:"level"`

	// Format is "text" (default) or "json".
	Format string `toml:"format"`

	// File is the log file. Default "": standard error.
	File string `toml:"file"`

	// Async writes log lines from a background goroutine. Default false.
	Async bool `toml:"async"`

	// Source adds file:line to each line. Default true.
	Source bool `toml:"source"`

	// MaxSize rotates the file when it would grow past this size. 0: no
	// size rotation. Ignored without File. Default 100MiB.
	MaxSize Size `toml:"max_size"`

	// MaxBackups is how many rotated files to keep. 0: all. Default 7.
	MaxBackups int `toml:"max_backups"`

	// MaxAge removes rotated files older than this, e.g. "168h" for a
	// week. 0: keep forever (default).
	MaxAge Duration `toml:"max_age"`

	// Daily also rotates the file at local midnight. Default false.
	Daily bool `toml:"daily"`

	// OnFull says what an async logger does when its buffers are full:
	// "block" (default: wait, lose nothing) or "drop" (count and discard).
	OnFull string `toml:"on_full"`
}

// Database is the [database] table: the accounts store.
type Database struct {
	// URL is "sqlite://PATH" or "postgres://user:pass@host/db" (also
	// "postgresql://"). Default "": sqlite://<data_dir>/wharf.db, see
	// Config.ResolvedDatabaseURL.
	URL string `toml:"url"`

	// MaxOpenConns caps the pool's open connections. Default 0: chosen per
	// driver by the accounts store (SQLite serialises writers, so a small
	// pool; PostgreSQL scales with GOMAXPROCS).
	MaxOpenConns int `toml:"max_open_conns"`
}

// Cluster is the [cluster] table: this wharfd as one node of several that
// serve the same users through a NATS server (package cluster). Without a
// broker, wharfd is a single node. A cluster keeps its accounts, sessions
// and history in one PostgreSQL database, so database.url must be a
// postgres:// URL.
type Cluster struct {
	// Broker is the NATS server, "nats://HOST:PORT" (also tls://, ws://,
	// wss://), or several of one NATS cluster separated by commas.
	// Credentials may be in the URL ("nats://user:pass@host:4222"); errors
	// never echo it. Default "": no cluster.
	Broker string `toml:"broker"`

	// NodeName names this node in the cluster, different on every node: 1
	// to 64 letters, digits, '_' and '-'. With processes = N, worker i is
	// node NodeName-i. Default "": the host name (see
	// Config.ResolvedNodeName).
	NodeName string `toml:"node_name"`

	// SubjectPrefix starts every NATS subject, so that several
	// deployments can share a NATS server: tokens of letters, digits, '_'
	// and '-' separated by '.'. Default "wharf".
	SubjectPrefix string `toml:"subject_prefix"`

	// Heartbeat is how often the node announces itself. Default 1s; at
	// least 10ms.
	Heartbeat Duration `toml:"heartbeat"`

	// DeadAfter is how long the other nodes wait without a heartbeat
	// before they drop this node's connections from presence (a node
	// killed with -9). Default 3s; at least twice Heartbeat.
	DeadAfter Duration `toml:"dead_after"`
}

// Default returns the built-in configuration: what an empty file gives.
// Each call returns fresh slices.
func Default() Config {
	return Config{
		Processes:    0,
		DataDir:      "./data",
		DrainTimeout: Duration(30 * time.Second),
		Server: Server{
			Listen:              []endpoint.Addr{endpoint.MustParse("tcp://:7000")},
			Engine:              "reactor",
			MaxConnections:      65536,
			MaxConnectionsPerIP: 1000,
			IdleTimeout:         Duration(60 * time.Second),
			FloodMode:           "bucket",
			FloodRate:           5000,
			FloodBurst:          5000,
			FloodInterval:       Duration(100 * time.Millisecond),
			FloodCount:          10,
			MaxPendingPerConn:   400,
			MaxPendingTotal:     50000,
			StatsInterval:       Duration(10 * time.Second),
			MaxPacket:           16 << 10,
			MaxBadPackets:       3,
		},
		HTTP: HTTP{
			Listen:              []endpoint.Addr{endpoint.MustParse("tcp://:8080")},
			ReadHeaderTimeout:   Duration(10 * time.Second),
			ReadTimeout:         Duration(60 * time.Second),
			WriteTimeout:        Duration(60 * time.Second),
			IdleTimeout:         Duration(120 * time.Second),
			MaxHeaderBytes:      64 << 10,
			MaxBodyBytes:        1 << 20,
			MaxConnections:      16384,
			MaxConnectionsPerIP: 256,
		},
		KCP: KCP{
			Listen:      []endpoint.Addr{endpoint.MustParse("udp://:7001")},
			Mode:        "fast",
			SendWindow:  128,
			RecvWindow:  128,
			MTU:         1400,
			MaxSessions: 10000,
			Cookies:     "under_load",
		},
		Admin: Admin{
			Listen: []endpoint.Addr{endpoint.MustParse("tcp://127.0.0.1:9090")},
		},
		TLS: TLS{
			MinVersion:       "1.2",
			HandshakeTimeout: Duration(10 * time.Second),
		},
		Chat: Chat{
			RegisterPerIP:             20,
			LoginFailuresPerIP:        20,
			LoginFailuresPerUser:      10,
			LoginFailuresPerUserTotal: 100,
			SayBurst:                  10,
			SayInterval:               Duration(time.Second),
			SayPerIPBurst:             50,
			SayPerIPInterval:          Duration(50 * time.Millisecond),
			MaxFanout:                 2_000_000,
			LoginWait:                 Duration(5 * time.Second),
			RegisterWait:              Duration(time.Second),
		},
		Channels: Channels{
			Lobby:                "room:lobby",
			History:              "auto",
			StreamTTL:            Duration(24 * time.Hour),
			MaxDataSize:          8 << 10,
			MaxChannelsPerConn:   128,
			DirectMessages:       "users",
			PublishBurst:         50,
			PublishInterval:      Duration(100 * time.Millisecond),
			PublishPerIPBurst:    200,
			PublishPerIPInterval: Duration(20 * time.Millisecond),
			Namespaces:           DefaultNamespaces(),
		},
		Push: Push{
			MaxBody:     64 << 10,
			MaxChannels: 100,
			Rate:        1000,
			Burst:       2000,
		},
		Log: Log{
			Level:      "info",
			Format:     "text",
			Source:     true,
			MaxSize:    100 << 20,
			MaxBackups: 7,
			OnFull:     "block",
		},
		Cluster: Cluster{
			SubjectPrefix: "wharf",
			Heartbeat:     Duration(time.Second),
			DeadAfter:     Duration(3 * time.Second),
		},
	}
}

// DefaultNamespaces are the namespaces when the file lists none: the
// default namespace ("general": logged-in users subscribe and publish),
// "room" (the same, with presence, join and leave events, and the last 100
// publications for 24 h) and "user" ("user:42": only user 42 subscribes,
// only the push API publishes, with the last 100 for 24 h). They are
// package channels' defaults. Each call returns a fresh slice.
func DefaultNamespaces() []Namespace {
	return []Namespace{
		{Name: "", Subscribe: "users", Publish: "users"},
		{Name: "room", Subscribe: "users", Publish: "users", Presence: true, JoinLeave: true, HistorySize: 100, HistoryTTL: Duration(24 * time.Hour)},
		{Name: "user", Subscribe: "owner", Publish: "server", HistorySize: 100, HistoryTTL: Duration(24 * time.Hour)},
	}
}

// ResolvedDatabaseURL returns Database.URL, or for "" the SQLite database
// wharf.db in DataDir: "sqlite://./data/wharf.db" by default.
func (c Config) ResolvedDatabaseURL() string {
	if c.Database.URL != "" {
		return c.Database.URL
	}
	dir := strings.TrimRight(c.DataDir, "/")
	if dir == "" && c.DataDir == "" {
		dir = "."
	}
	return "sqlite://" + dir + "/wharf.db"
}

// ResolvedNodeName returns Cluster.NodeName, or for "" the host name made
// into a node name: characters other than letters, digits, '_' and '-'
// become '-' ("web1.example.com" is "web1-example-com"), cut to 64 bytes;
// "wharf" if the host name is unknown.
func (c Config) ResolvedNodeName() string {
	if c.Cluster.NodeName != "" {
		return c.Cluster.NodeName
	}
	host, _ := os.Hostname()
	b := []byte(host)
	for i, ch := range b {
		if !subject.NodeNameChar(ch) {
			b[i] = '-'
		}
	}
	if len(b) > subject.MaxNodeName {
		b = b[:subject.MaxNodeName]
	}
	if len(b) == 0 {
		return "wharf"
	}
	return string(b)
}

// ResolvedHistory returns Channels.History, with "auto" replaced by what it
// means here: "sql" with worker processes (Processes "auto" or above 1)
// or in a cluster (Cluster.Broker set), else "memory".
func (c Config) ResolvedHistory() string {
	if c.Channels.History != "auto" {
		return c.Channels.History
	}
	if c.Processes == ProcessesAuto || c.Processes > 1 || c.Cluster.Broker != "" {
		return "sql"
	}
	return "memory"
}

// ResolvedProcesses returns the number of worker processes: Processes, with
// ProcessesAuto replaced by runtime.NumCPU(). 0 means no master: one
// process serves everything.
func (c Config) ResolvedProcesses() int { return c.Processes.resolve() }
