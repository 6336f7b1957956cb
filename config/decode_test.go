package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// badFiles are files with one or more problems and the exact messages,
// one per line, that Parse must report for them (as "wharf.toml").
var badFiles = []struct {
	name  string
	in    string
	want  string
	class error // the class of the first problem
}{
	// Syntax.
	{
		name:  "missing value",
		in:    "daemon = true\nprocesses =\n",
		want:  `wharf.toml:2:12: syntax error: unexpected character U+000A at start of value`,
		class: ErrSyntax,
	},
	{
		name:  "unterminated string",
		in:    "[server]\nengine = \"reactor\nloops = 1\n",
		want:  `wharf.toml:2:18: syntax error: basic strings cannot have new lines`,
		class: ErrSyntax,
	},
	{
		name:  "duplicate key",
		in:    "[server]\nloops = 1\nloops = 2\n",
		want:  `wharf.toml:3:1: syntax error: key loops is already defined`,
		class: ErrSyntax,
	},
	// Unknown keys.
	{
		name:  "unknown table",
		in:    "daemon = false\n\n[sever]\nloops = 1\n",
		want:  `wharf.toml:3:2: unknown key "sever" (did you mean "server"?)`,
		class: ErrUnknownKey,
	},
	{
		name:  "unknown top-level key",
		in:    "# c\nproceses = 2\n",
		want:  `wharf.toml:2:1: unknown key "proceses" (did you mean "processes"?)`,
		class: ErrUnknownKey,
	},
	{
		name:  "table key at top level",
		in:    "listen = [\"tcp://:1\"]\nmtu = 1000\n",
		want:  "wharf.toml:1:1: unknown key \"listen\" (did you mean \"server.listen\", \"http.listen\", \"kcp.listen\" or \"admin.listen\"?)\nwharf.toml:2:1: unknown key \"mtu\" (did you mean \"kcp.mtu\"?)",
		class: ErrUnknownKey,
	},
	{
		name:  "unknown key in table",
		in:    "[server]\nidle_timout = \"1s\"\nnonsense = 1\n",
		want:  "wharf.toml:2:1: unknown key \"server.idle_timout\" (did you mean \"server.idle_timeout\"?)\nwharf.toml:3:1: unknown key \"server.nonsense\"",
		class: ErrUnknownKey,
	},
	{
		name:  "top-level key after a table",
		in:    "[server]\nloops = 2\ndaemon = true\n",
		want:  `wharf.toml:3:1: unknown key "server.daemon" ("daemon" is a top-level key: move it above the first [table])`,
		class: ErrUnknownKey,
	},
	{
		name:  "key of another table",
		in:    "[http]\nmtu = 1200\n",
		want:  `wharf.toml:2:1: unknown key "http.mtu" (did you mean "kcp.mtu"?)`,
		class: ErrUnknownKey,
	},
	{
		name:  "dotted and inline keys",
		in:    "server.idle_timout = \"1s\"\nlog = { levl = \"info\" }\n",
		want:  "wharf.toml:1:1: unknown key \"server.idle_timout\" (did you mean \"server.idle_timeout\"?)\nwharf.toml:2:9: unknown key \"log.levl\" (did you mean \"log.level\"?)",
		class: ErrUnknownKey,
	},
	{
		name:  "sub-table",
		in:    "[server.tls]\ncert = \"x\"\n",
		want:  `wharf.toml:1:2: unknown key "server.tls"`,
		class: ErrUnknownKey,
	},
	// Types.
	{
		name:  "table is not a table",
		in:    "server = 5\n",
		want:  `wharf.toml:1:1: server: expected a table ([server]), got integer 5`,
		class: ErrType,
	},
	{
		name:  "array of tables",
		in:    "[[kcp]]\nmtu = 1000\n",
		want:  `wharf.toml:1:3: kcp: expected a table ([kcp]), got an array`,
		class: ErrType,
	},
	{
		name:  "duration without unit",
		in:    "\n[server]\nidle_timeout = 60\n",
		want:  `wharf.toml:3:1: server.idle_timeout: duration 60 has no unit: write a string such as "60s" or "60ms"`,
		class: ErrType,
	},
	{
		name:  "integer as string",
		in:    "[server]\nloops = \"4\"\n",
		want:  `wharf.toml:2:1: server.loops: expected an integer, got string "4"`,
		class: ErrType,
	},
	{
		name:  "bool as string",
		in:    "daemon = \"yes\"\n",
		want:  `wharf.toml:1:1: daemon: expected true or false, got string "yes"`,
		class: ErrType,
	},
	{
		name:  "address as integer",
		in:    "[http]\nlisten = 8080\n",
		want:  `wharf.toml:2:1: http.listen: expected an address or a list of addresses, got integer 8080`,
		class: ErrType,
	},
	{
		name:  "one bad address as a string",
		in:    "[http]\nlisten = \"localhost\"\n",
		want:  `wharf.toml:2:1: http.listen: "localhost": missing port (want HOST:PORT, e.g. ":7000")`,
		class: ErrValue,
	},
	{
		name:  "list element",
		in:    "[kcp]\nlisten = [\"udp://:1\", 2]\n",
		want:  `wharf.toml:2:1: kcp.listen: element 1: expected a string, got integer 2`,
		class: ErrType,
	},
	{
		name:  "size as float",
		in:    "[server]\nmax_packet = 1.5\n",
		want:  `wharf.toml:2:1: server.max_packet: expected a size such as "16KiB" or a number of bytes, got float 1.5`,
		class: ErrType,
	},
	{
		name:  "processes as bool",
		in:    "processes = true\n",
		want:  `wharf.toml:1:1: processes: expected a number or "auto", got boolean true`,
		class: ErrType,
	},
	{
		name:  "string as date",
		in:    "pid_file = 1979-05-27\n",
		want:  `wharf.toml:1:1: pid_file: expected a string, got a date or time`,
		class: ErrType,
	},
	// Values.
	{
		name:  "bad duration",
		in:    "\n\n\n\n\n\n\n\n\n\n\n[server]\nidle_timeout = \"6os\"\n",
		want:  `wharf.toml:13:1: server.idle_timeout: invalid duration "6os" (want a number with a unit: ns, us, ms, s, m or h, e.g. "1m30s")`,
		class: ErrValue,
	},
	{
		name:  "mtu out of range",
		in:    "[kcp]\n  mtu = 9000\n",
		want:  `wharf.toml:2:3: kcp.mtu: 9000 is out of range (50..1500)`,
		class: ErrValue,
	},
	{
		name:  "max_packet too large",
		in:    "[server]\nmax_packet = \"64KiB\"\n",
		want:  `wharf.toml:2:1: server.max_packet: 65536 is out of range (9..65535)`,
		class: ErrValue,
	},
	{
		name:  "max_packet too small",
		in:    "[server]\nmax_packet = 8\n",
		want:  `wharf.toml:2:1: server.max_packet: 8 is out of range (9..65535)`,
		class: ErrValue,
	},
	{
		name:  "bad size",
		in:    "[http]\nmax_body_bytes = \"1 megabyte\"\n",
		want:  `wharf.toml:2:1: http.max_body_bytes: invalid size "1 megabyte": unknown unit "megabyte" (want KB, MB, GB, TB, KiB, MiB, GiB or TiB)`,
		class: ErrValue,
	},
	{
		name:  "negative size",
		in:    "[log]\nmax_size = -1\n",
		want:  `wharf.toml:2:1: log.max_size: -1 must not be negative`,
		class: ErrValue,
	},
	{
		name:  "negative duration",
		in:    "drain_timeout = \"-5s\"\n",
		want:  `wharf.toml:1:1: drain_timeout: -5s must not be negative`,
		class: ErrValue,
	},
	{
		name:  "negative processes",
		in:    "processes = -1\n",
		want:  `wharf.toml:1:1: processes: -1 is out of range (0..1024 or "auto")`,
		class: ErrValue,
	},
	{
		name:  "too many processes",
		in:    "processes = \"5000\"\n",
		want:  `wharf.toml:1:1: processes: 5000 is out of range (0..1024 or "auto")`,
		class: ErrValue,
	},
	{
		name:  "flood_count",
		in:    "[server]\nflood_count = 1\n",
		want:  `wharf.toml:2:1: server.flood_count: 1 must be at least 2`,
		class: ErrValue,
	},
	{
		name:  "flood_mode",
		in:    "[server]\nflood_mode = \"bucktet\"\n",
		want:  `wharf.toml:2:1: server.flood_mode: "bucktet" is not "bucket", "interval" or "off" (did you mean "bucket"?)`,
		class: ErrValue,
	},
	{
		name:  "flood_rate",
		in:    "[server]\nflood_rate = 0\n",
		want:  `wharf.toml:2:1: server.flood_rate: 0 must be at least 1`,
		class: ErrValue,
	},
	{
		name:  "negative loops",
		in:    "[server]\nloops = -2\n",
		want:  `wharf.toml:2:1: server.loops: -2 must not be negative`,
		class: ErrValue,
	},
	{
		name:  "enum",
		in:    "[server]\nengine = \"epoll\"\n[log]\nlevel = \"INFO\"\nformat = \"jsn\"\n",
		want:  "wharf.toml:2:1: server.engine: \"epoll\" is not \"reactor\", \"goroutine\", \"uring\" or \"auto\"\nwharf.toml:4:1: log.level: \"INFO\" is not \"debug\", \"info\", \"warn\" or \"error\" (did you mean \"info\"?)\nwharf.toml:5:1: log.format: \"jsn\" is not \"text\" or \"json\" (did you mean \"json\"?)",
		class: ErrValue,
	},
	{
		name:  "empty server.listen",
		in:    "[server]\nlisten = []\n",
		want:  `wharf.toml:2:1: server.listen: must list at least one address`,
		class: ErrValue,
	},
	{
		name: "listen schemes",
		in: "[server]\nlisten = [\n  \"tcp://:7000\",\n  \"udp://:7001\",\n  \"7002\",\n  \"tcp4://[::1]:7003\",\n  \"tcp://:70000\",\n  \"unix://\",\n  \"tcp://:7004/x\",\n  \"ws://h/ws\",\n  \"::1:7005\",\n]\n" +
			"[http]\nlisten = [\"udp://[::1]:80\", \"tcp://localhost\"]\n[kcp]\nlisten = [\"tcp://:7001\", \"udp://:x\"]\n",
		want: "wharf.toml:4:3: server.listen[1]: \"udp://:7001\": scheme must be tcp, tcp4, tcp6, unix or tls\n" +
			"wharf.toml:5:3: server.listen[2]: \"7002\": missing port: write \":7002\" for port 7002 on every interface\n" +
			"wharf.toml:6:3: server.listen[3]: \"tcp4://[::1]:7003\": tcp4 needs an IPv4 address\n" +
			"wharf.toml:7:3: server.listen[4]: \"tcp://:70000\": port \"70000\" is not a number from 0 to 65535\n" +
			"wharf.toml:8:3: server.listen[5]: \"unix://\": missing socket path\n" +
			"wharf.toml:9:3: server.listen[6]: \"tcp://:7004/x\": unexpected \"/x\" after the port\n" +
			"wharf.toml:10:3: server.listen[7]: \"ws://h/ws\": scheme must be tcp, tcp4, tcp6, unix or tls\n" +
			"wharf.toml:11:3: server.listen[8]: \"::1:7005\": an IPv6 address must be in brackets, e.g. \"[::1]:7000\"\n" +
			"wharf.toml:14:11: http.listen[0]: \"udp://[::1]:80\": scheme must be tcp, tcp4, tcp6, unix or tls\n" +
			"wharf.toml:14:29: http.listen[1]: \"tcp://localhost\": missing port (want HOST:PORT, e.g. \":7000\")\n" +
			"wharf.toml:16:11: kcp.listen[0]: \"tcp://:7001\": scheme must be udp, udp4 or udp6\n" +
			"wharf.toml:16:26: kcp.listen[1]: \"udp://:x\": port \"x\" is not a number from 0 to 65535",
		class: ErrValue,
	},
	{
		name:  "tls listener without a certificate",
		in:    "[server]\nlisten = [\"tcp://:7000\", \"tls://:7443\"]\n",
		want:  `wharf.toml:2:26: server.listen[1]: "tls://:7443" needs tls.cert and tls.key (a certificate and its private key)`,
		class: ErrValue,
	},
	{
		name:  "tls certificate missing",
		in:    "[http]\nlisten = \"tls://:8443\"\n[tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n",
		want:  `wharf.toml:4:1: tls.cert: certificate "/nonexistent/c.pem" with key "/nonexistent/k.pem": open /nonexistent/c.pem: no such file or directory`,
		class: ErrValue,
	},
	{
		name:  "tls version",
		in:    "[tls]\nmin_version = \"1.1\"\nhandshake_timeout = \"0s\"\n",
		want:  "wharf.toml:2:1: tls.min_version: \"1.1\" is not \"1.2\" or \"1.3\" (did you mean \"1.2\"?)\nwharf.toml:3:1: tls.handshake_timeout: 0s must be at least 1ms",
		class: ErrValue,
	},
	{
		name:  "long unix path",
		in:    "[http]\nlisten = [\"unix:///" + strings.Repeat("x", 107) + "\"]\n",
		want:  `wharf.toml:2:11: http.listen[0]: "unix:///` + strings.Repeat("x", 52) + `"...: socket path is longer than 107 bytes`,
		class: ErrValue,
	},
	{
		name:  "listen twice",
		in:    "[server]\nlisten = [\"tcp://:7000\", \"tcp://0.0.0.0:9000\", \"tcp://0.0.0.0:9000\", \"tcp://:0\", \"tcp://:0\"]\n",
		want:  `wharf.toml:2:48: server.listen[2]: "tcp://0.0.0.0:9000" is listed twice (also server.listen[1])`,
		class: ErrValue,
	},
	{
		name:  "http on the packet port",
		in:    "[http]\nlisten = [\"tcp://:7000\"]\n",
		want:  `wharf.toml:2:11: http.listen[0]: "tcp://:7000" is also in server.listen ("tcp://:7000", default)`,
		class: ErrValue,
	},
	{
		name:  "packet server on the http port",
		in:    "[server]\nlisten = [\"tcp://[::ffff:127.0.0.1]:8080\"]\n[http]\nlisten = [\"tcp://127.0.0.1:8080\"]\n",
		want:  `wharf.toml:4:11: http.listen[0]: "tcp://127.0.0.1:8080" is also in server.listen ("tcp://[::ffff:127.0.0.1]:8080", line 2)`,
		class: ErrValue,
	},
	{
		name:  "bare address on the http port",
		in:    "[server]\nlisten = \":8080\"\n",
		want:  `wharf.toml:2:1: server.listen: "tcp://:8080" is also in http.listen ("tcp://:8080", default)`,
		class: ErrValue,
	},
	{
		name:  "server takes the default http port",
		in:    "[server]\nlisten = [\"tcp://:8080\"]\n",
		want:  `wharf.toml:2:11: server.listen[0]: "tcp://:8080" is also in http.listen ("tcp://:8080", default)`,
		class: ErrValue,
	},
	{
		name:  "same socket path",
		in:    "[server]\nlisten = [\"unix:///run/w.sock\"]\n[http]\nlisten = [\"unix:///run/w.sock\"]\n",
		want:  `wharf.toml:4:11: http.listen[0]: "unix:///run/w.sock" is also in server.listen ("unix:///run/w.sock", line 2)`,
		class: ErrValue,
	},
	{
		name:  "pending relation, file vs default",
		in:    "[server]\nmax_pending_total = 300\n",
		want:  `wharf.toml:2:1: server.max_pending_total: 300 must be at least server.max_pending_per_conn (400, default)`,
		class: ErrValue,
	},
	{
		name:  "pending relation, both in file",
		in:    "[server]\nmax_pending_per_conn = 500\nmax_pending_total = 300\n",
		want:  `wharf.toml:2:1: server.max_pending_per_conn: 500 must not exceed server.max_pending_total (300, line 3)`,
		class: ErrValue,
	},
	{
		name:  "header timeout above read timeout",
		in:    "[http]\nread_timeout = \"5s\"\n",
		want:  `wharf.toml:2:1: http.read_timeout: 5s must be at least http.read_header_timeout (10s, default)`,
		class: ErrValue,
	},
	{
		name:  "fec half on",
		in:    "[kcp]\nparity_shards = 3\n",
		want:  `wharf.toml:2:1: kcp.parity_shards: 3 needs kcp.data_shards > 0 too, or both 0 to turn FEC off (0, default)`,
		class: ErrValue,
	},
	{
		name:  "fec too many shards",
		in:    "[kcp]\ndata_shards = 200\nparity_shards = 100\n",
		want:  `wharf.toml:2:1: kcp.data_shards: 200 plus kcp.parity_shards (100, line 3) is more than 256 shards`,
		class: ErrValue,
	},
	{
		name:  "fec shard range",
		in:    "[kcp]\ndata_shards = 300\nparity_shards = 1\n",
		want:  `wharf.toml:2:1: kcp.data_shards: 300 is out of range (0..255)`,
		class: ErrValue,
	},
	{
		name:  "trusted proxies",
		in:    "[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/33\", \"proxy.local\"]\n",
		want:  "wharf.toml:2:34: http.trusted_proxies[1]: \"10.0.0.0/33\" is neither a CIDR (\"10.0.0.0/8\") nor an IP address\nwharf.toml:2:49: http.trusted_proxies[2]: \"proxy.local\" is neither a CIDR (\"10.0.0.0/8\") nor an IP address",
		class: ErrValue,
	},
	{
		name:  "database url scheme never echoes the url",
		in:    "[database]\nurl = \"mysql://root:hunter2@db/wharf\"\n",
		want:  `wharf.toml:2:1: database.url: unsupported scheme "mysql" (want sqlite or postgres)`,
		class: ErrValue,
	},
	{
		name:  "database url malformed",
		in:    "[database]\nurl = \"postgres://root:hunter2@db:port/wharf\"\n",
		want:  `wharf.toml:2:1: database.url: is not a valid postgres:// URL`,
		class: ErrValue,
	},
	{
		name:  "database url empty sqlite",
		in:    "[database]\nurl = \"sqlite://\"\n",
		want:  `wharf.toml:2:1: database.url: sqlite:// needs a file path`,
		class: ErrValue,
	},
	{
		name:  "cluster without postgres",
		in:    "[cluster]\nbroker = \"nats://u:hunter2@nats:4222\"\n",
		want:  `wharf.toml:2:1: cluster.broker: needs database.url = "postgres://...": a cluster shares accounts, sessions and history in PostgreSQL`,
		class: ErrValue,
	},
	{
		name:  "cluster on sqlite",
		in:    "[database]\nurl = \"sqlite:///var/w.db\"\n[cluster]\nbroker = \"nats://nats:4222\"\n",
		want:  `wharf.toml:2:1: database.url: must be a postgres:// URL with cluster.broker set: a cluster shares accounts, sessions and history in PostgreSQL`,
		class: ErrValue,
	},
	{
		name:  "cluster broker scheme never echoes the url",
		in:    "[database]\nurl = \"postgres://db/w\"\n[cluster]\nbroker = \"nats://a:4222, redis://u:hunter2@r\"\n",
		want:  `wharf.toml:4:1: cluster.broker: URL 2 unsupported scheme "redis" (want nats, tls, ws or wss)`,
		class: ErrValue,
	},
	{
		name:  "cluster broker without host",
		in:    "[database]\nurl = \"postgres://db/w\"\n[cluster]\nbroker = \"nats://\"\n",
		want:  `wharf.toml:4:1: cluster.broker: is not a valid nats:// URL with a host`,
		class: ErrValue,
	},
	{
		name: "cluster names and timing",
		in:   "[cluster]\nnode_name = \"web.1\"\nsubject_prefix = \"a..b\"\nheartbeat = \"2s\"\ndead_after = \"3s\"\n",
		want: "wharf.toml:2:1: cluster.node_name: \"web.1\" has '.' at byte 3: want letters, digits, '_' and '-'\n" +
			"wharf.toml:3:1: cluster.subject_prefix: \"a..b\" has an empty token (a leading, trailing or double '.')\n" +
			"wharf.toml:5:1: cluster.dead_after: 3s must be at least twice cluster.heartbeat (2s, line 4) (one late heartbeat would drop the node)",
		class: ErrValue,
	},
	{
		name:  "cluster with memory history",
		in:    "[database]\nurl = \"postgres://db/w\"\n[cluster]\nbroker = \"nats://nats:4222\"\n[channels]\nhistory = \"memory\"\n",
		want:  `wharf.toml:6:1: channels.history: "memory" keeps history in each node, which would number publications each on its own: a cluster needs channels.history = "sql" (in the shared PostgreSQL)`,
		class: ErrValue,
	},
	{
		name:  "empty data_dir",
		in:    "data_dir = \"\"\n",
		want:  `wharf.toml:1:1: data_dir: must not be empty`,
		class: ErrValue,
	},
	{
		name: "several problems in file order",
		in:   "[kcp]\nmtu = 10\n[server]\nflood_count = 0\nbogus = 1\nidle_timeout = 5\n",
		want: "wharf.toml:2:1: kcp.mtu: 10 is out of range (50..1500)\n" +
			"wharf.toml:4:1: server.flood_count: 0 must be at least 2\n" +
			"wharf.toml:5:1: unknown key \"server.bogus\"\n" +
			"wharf.toml:6:1: server.idle_timeout: duration 5 has no unit: write a string such as \"5s\" or \"5ms\"",
		class: ErrValue,
	},
	// Channels.
	{
		name:  "unknown key in a namespace",
		in:    "[[channels.namespace]]\nname = \"room\"\npresense = true\n",
		want:  `wharf.toml:3:1: unknown key "channels.namespace[0].presense" (did you mean "channels.namespace[0].presence"?)`,
		class: ErrUnknownKey,
	},
	{
		name: "bad namespace values",
		in:   "[[channels.namespace]]\nname = \"room\"\nsubscribe = \"everyone\"\njoin_leave = true\n[[channels.namespace]]\nname = \"Room2\"\nhistory_ttl = \"1h\"\n",
		want: "wharf.toml:3:1: channels.namespace[0].subscribe: \"everyone\" is not \"users\", \"anyone\", \"owner\" or \"server\"\n" +
			"wharf.toml:4:1: channels.namespace[0].join_leave: needs presence = true (joins and leaves are presence's)\n" +
			"wharf.toml:6:1: channels.namespace[1].name: \"Room2\": must start with a lower-case letter\n" +
			"wharf.toml:7:1: channels.namespace[1].history_ttl: set without history_size",
		class: ErrValue,
	},
	{
		name: "duplicate namespace, lobby outside the list",
		in:   "[channels]\nlobby = \"chat:main\"\n[[channels.namespace]]\nname = \"room\"\n[[channels.namespace]]\nname = \"room\"\n",
		want: "wharf.toml:2:1: channels.lobby: \"chat:main\" is in namespace \"chat\", which channels.namespace does not list\n" +
			"wharf.toml:6:1: channels.namespace[1].name: \"room\" is also channels.namespace[0]",
		class: ErrValue,
	},
	{
		name:  "namespace value of the wrong type",
		in:    "[[channels.namespace]]\nname = \"room\"\nhistory_size = \"10\"\n",
		want:  `wharf.toml:3:1: channels.namespace[0].history_size: expected an integer, got string "10"`,
		class: ErrType,
	},
	{
		name:  "inline namespaces",
		in:    "[channels]\nnamespace = [{name = \"room\"}, {name = \"x\", histroy_size = 1}]\n",
		want:  `wharf.toml:2:44: unknown key "channels.namespace[1].histroy_size" (did you mean "channels.namespace[1].history_size"?)`,
		class: ErrUnknownKey,
	},
	{
		name:  "memory history in several processes",
		in:    "processes = 4\n[channels]\nhistory = \"memory\"\n",
		want:  `wharf.toml:3:1: channels.history: "memory" keeps history in each worker process, and processes (4, line 1) would number publications each on its own: set channels.history = "sql" (the [database])`,
		class: ErrValue,
	},
	{
		name:  "packet too small for channel data",
		in:    "[server]\nmax_packet = 4096\n",
		want:  `wharf.toml:2:1: server.max_packet: 4096 has no room for channels.max_data_size (8192, default) and the message around the data (512 bytes)`,
		class: ErrValue,
	},
	{
		name: "short secrets",
		in:   "[jwt]\nhmac_secret = \"x\"\n[push]\nkeys = [\"0123456789abcdef\", \"short\"]\n",
		want: "wharf.toml:2:1: jwt.hmac_secret: 1 bytes: want at least 32, or it can be guessed from any token\n" +
			"wharf.toml:4:29: push.keys[1]: a key of 5 bytes: want at least 16, or it can be guessed",
		class: ErrValue,
	},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range badFiles {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "wharf.toml")
			if err == nil {
				t.Fatalf("Parse accepted %q: %+v", tt.in, c)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error:\n%s\nwant:\n%s", got, tt.want)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Config", c)
			}
			probs := problems(t, err)
			if !errors.Is(probs[0], tt.class) || !errors.Is(err, tt.class) {
				t.Errorf("first problem %q is not %v", probs[0], tt.class)
			}
			for _, p := range probs {
				if p.File != "wharf.toml" || p.Line == 0 || p.Env != "" || p.Default {
					t.Errorf("problem %q: File %q Line %d Env %q Default %v; want located in the file", p, p.File, p.Line, p.Env, p.Default)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the database password: %s", err)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	in := "daemon = true\n[server]\n  idle_timeout = \"x\"\n"
	_, err := Parse([]byte(in), "/etc/wharf.toml")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
	if e.File != "/etc/wharf.toml" || e.Line != 3 || e.Col != 3 || e.Key != "server.idle_timeout" || e.Env != "" || e.Default {
		t.Errorf("got %+v", *e)
	}
	if !errors.Is(err, ErrValue) || errors.Is(err, ErrType) {
		t.Errorf("classes of %v wrong", err)
	}
	if got, want := e.Err.Error(), `invalid duration "x" (want a number with a unit: ns, us, ms, s, m or h, e.g. "1m30s")`; got != want {
		t.Errorf("Err = %q, want the problem without its location: %q", got, want)
	}

	// Syntax errors carry go-toml's DecodeError, with its context view.
	_, err = Parse([]byte("a = [1,\n"), "s.toml")
	var de *toml.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrSyntax) {
		t.Fatalf("syntax error %v does not wrap *toml.DecodeError and ErrSyntax", err)
	}
	if !strings.Contains(de.String(), "a = [1,") {
		t.Errorf("DecodeError.String() = %q, want the offending line", de.String())
	}

	// No name: no file in messages.
	_, err = Parse([]byte("[kcp]\nmtu = 1\n"), "")
	if got, want := err.Error(), "kcp.mtu: 1 is out of range (50..1500)"; got != want {
		t.Errorf("unnamed Parse error = %q, want %q", got, want)
	}
}

// TestListenForms checks the ways of writing a listen key: one address or
// a list, with a scheme or the one the table implies (tcp for [server]
// and [http], udp for [kcp]), as an nginx user writes it.
func TestListenForms(t *testing.T) {
	for _, tt := range []struct {
		in           string
		server, http []string // nil: the default
		kcp          []string
	}{
		{in: "[http]\nlisten = \"127.0.0.1:8081\"\n", http: []string{"tcp://127.0.0.1:8081"}},
		{in: "[http]\nlisten = [\"127.0.0.1:8081\"]\n", http: []string{"tcp://127.0.0.1:8081"}},
		{in: "[http]\nlisten = \"tcp://127.0.0.1:8081\"\n", http: []string{"tcp://127.0.0.1:8081"}},
		{in: "[http]\nlisten = [\"tcp6://[::1]:8081\", \"unix:///run/h.sock\"]\n", http: []string{"tcp6://[::1]:8081", "unix:///run/h.sock"}},
		{in: "[server]\nlisten = [\"[::1]:7003\", \"unix://run/w.sock\", \"TCP://:7004\"]\n", server: []string{"tcp://[::1]:7003", "unix://run/w.sock", "tcp://:7004"}},
		{in: "[server]\nlisten = \":7003\"\n", server: []string{"tcp://:7003"}},
		{in: "[kcp]\nlisten = \":7002\"\n", kcp: []string{"udp://:7002"}},
		{in: "[kcp]\nlisten = [\"127.0.0.1:7002\", \"udp6://[::1]:7002\"]\n", kcp: []string{"udp://127.0.0.1:7002", "udp6://[::1]:7002"}},
	} {
		c, err := Parse([]byte(tt.in), "f.toml")
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		want := Default()
		if tt.server != nil {
			want.Server.Listen = addrs(tt.server...)
		}
		if tt.http != nil {
			want.HTTP.Listen = addrs(tt.http...)
		}
		if tt.kcp != nil {
			want.KCP.Listen = addrs(tt.kcp...)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("%q: listen = %v, %v, %v; want %v, %v, %v", tt.in, c.Server.Listen, c.HTTP.Listen, c.KCP.Listen, want.Server.Listen, want.HTTP.Listen, want.KCP.Listen)
		}
		// The effective configuration prints every address with its scheme.
		data, err := c.TOML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data, "printed.toml")
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%q: printed config %s reads back as %+v, %v", tt.in, data, back, err)
		}
	}
}

func TestParseForms(t *testing.T) {
	// Equivalent TOML spellings give equal configs.
	base := Default()
	base.Server.IdleTimeout = Duration(30 * time.Second)
	base.Server.Listen = addrs("tcp://:1", "unix:///tmp/s")
	base.HTTP.Listen = nil
	base.Log.MaxSize = 4096
	base.Processes = 2

	forms := []string{
		"processes = 2\n[server]\nidle_timeout = \"30s\"\nlisten = [\"tcp://:1\", \"unix:///tmp/s\"]\n[http]\nlisten = []\n[log]\nmax_size = 4096\n",
		"processes = \"2\"\nserver.idle_timeout = '30s'\nserver.listen = ['tcp://:1', '''unix:///tmp/s''']\nhttp.listen = []\nlog.max_size = \"4KiB\"\n",
		"processes = 2\nserver = { idle_timeout = \"30s\", listen = [\"tcp://:1\", \"unix:///tmp/s\"] }\nhttp = { listen = [] }\n[log]\nmax_size = \"4 kib\"\n",
		"[log]\nmax_size = 0x1000\n[server]\nlisten = [\n  \"tcp://:1\", # first\n  \"unix:///tmp/s\",\n]\nidle_timeout = \"0.5m\"\n[http]\nlisten = []\nprocesses = 2\n",
	}
	for i, in := range forms {
		c, err := Parse([]byte(in), "f.toml")
		if i == 3 {
			// processes after [http] belongs to http: the one slip
			// in this form.
			want := `f.toml:11:1: unknown key "http.processes" ("processes" is a top-level key: move it above the first [table])`
			if err == nil || err.Error() != want {
				t.Errorf("form %d: got %v, want %s", i, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("form %d: %v", i, err)
			continue
		}
		if !reflect.DeepEqual(c, base) {
			t.Errorf("form %d =\n%+v\nwant\n%+v", i, c, base)
		}
	}
}
