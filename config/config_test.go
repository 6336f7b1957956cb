package config

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"wharf/endpoint"
	"wharf/internal/subject"
)

func TestDefault(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	// The values the spec and the brief promise, spelled out rather than
	// compared with Default() itself.
	want := Config{
		Processes:    0,
		DataDir:      "./data",
		DrainTimeout: Duration(30 * time.Second),
		Server: Server{
			Listen:              addrs("tcp://:7000"),
			Engine:              "reactor",
			MaxConnections:      65536,
			MaxConnectionsPerIP: 1000,
			IdleTimeout:         Duration(time.Minute),
			FloodMode:           "bucket",
			FloodRate:           5000,
			FloodBurst:          5000,
			FloodInterval:       Duration(100 * time.Millisecond),
			FloodCount:          10,
			MaxPendingPerConn:   400,
			MaxPendingTotal:     50000,
			StatsInterval:       Duration(10 * time.Second),
			MaxPacket:           16384,
			MaxBadPackets:       3,
		},
		HTTP: HTTP{
			Listen:              addrs("tcp://:8080"),
			ReadHeaderTimeout:   Duration(10 * time.Second),
			ReadTimeout:         Duration(time.Minute),
			WriteTimeout:        Duration(time.Minute),
			IdleTimeout:         Duration(2 * time.Minute),
			MaxHeaderBytes:      65536,
			MaxBodyBytes:        1048576,
			MaxConnections:      16384,
			MaxConnectionsPerIP: 256,
		},
		KCP:   KCP{Listen: addrs("udp://:7001"), Mode: "fast", SendWindow: 128, RecvWindow: 128, MTU: 1400, MaxSessions: 10000, Cookies: "under_load"},
		Admin: Admin{Listen: addrs("tcp://127.0.0.1:9090")},
		TLS:   TLS{MinVersion: "1.2", HandshakeTimeout: Duration(10 * time.Second)},
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
			Lobby: "room:lobby", History: "auto", StreamTTL: Duration(24 * time.Hour), MaxDataSize: 8192, MaxChannelsPerConn: 128,
			DirectMessages: "users", PublishBurst: 50, PublishInterval: Duration(100 * time.Millisecond),
			PublishPerIPBurst: 200, PublishPerIPInterval: Duration(20 * time.Millisecond),
			// package channels' DefaultNamespaces
			Namespaces: []Namespace{
				{Name: "", Subscribe: "users", Publish: "users"},
				{Name: "room", Subscribe: "users", Publish: "users", Presence: true, JoinLeave: true, HistorySize: 100, HistoryTTL: Duration(24 * time.Hour)},
				{Name: "user", Subscribe: "owner", Publish: "server", HistorySize: 100, HistoryTTL: Duration(24 * time.Hour)},
			},
		},
		Push:    Push{MaxBody: 65536, MaxChannels: 100, Rate: 1000, Burst: 2000},
		Log:     Log{Level: "info", Format: "text", Source: true, MaxSize: 100 << 20, MaxBackups: 7, OnFull: "block"},
		Cluster: Cluster{SubjectPrefix: "wharf", Heartbeat: Duration(time.Second), DeadAfter: Duration(3 * time.Second)},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", d, want)
	}

	// The empty file and a file of comments give the defaults.
	for _, in := range []string{"", "# nothing\n\n", "\uFEFF"} {
		c, err := Parse([]byte(in), "empty.toml")
		if err != nil || !reflect.DeepEqual(c, d) {
			t.Errorf("Parse(%q) = %+v, %v; want the defaults", in, c, err)
		}
	}

	// Each call returns fresh slices: a caller appending to one Config's
	// list must not change the next Default.
	d.Server.Listen[0] = endpoint.MustParse("tcp://:1")
	if Default().Server.Listen[0] != endpoint.MustParse("tcp://:7000") {
		t.Error("Default() shares its slices between calls")
	}
}

func TestLoadExample(t *testing.T) {
	c, err := noEnv.Load("testdata/wharf.toml")
	if err != nil {
		t.Fatalf("Load(testdata/wharf.toml): %v", err)
	}
	want := Config{
		Processes:    ProcessesAuto,
		Daemon:       true,
		PIDFile:      "/run/wharfd.pid",
		DataDir:      "/var/lib/wharf",
		DrainTimeout: Duration(time.Minute),
		Server: Server{
			Listen:              addrs("tcp://:7000", "tcp://:7002", "unix:///run/wharf/packet.sock"),
			Engine:              "reactor",
			Loops:               0,
			MaxConnections:      200000,
			MaxConnectionsPerIP: 5000,
			IdleTimeout:         Duration(90 * time.Second),
			FloodMode:           "bucket",
			FloodRate:           2000,
			FloodBurst:          500,
			FloodInterval:       Duration(50 * time.Millisecond),
			FloodCount:          20,
			MaxPendingPerConn:   1000,
			MaxPendingTotal:     100000,
			Handlers:            32,
			HandlerQueue:        4096,
			StatsInterval:       Duration(30 * time.Second),
			MaxPacket:           32768,
			MaxBadPackets:       5,
		},
		HTTP: HTTP{
			Listen:              addrs("tcp://127.0.0.1:8080"),
			ReadHeaderTimeout:   Duration(5 * time.Second),
			ReadTimeout:         Duration(30 * time.Second),
			WriteTimeout:        Duration(30 * time.Second),
			IdleTimeout:         Duration(2 * time.Minute),
			MaxHeaderBytes:      32768,
			MaxBodyBytes:        4 << 20,
			MaxConnections:      20000,
			MaxConnectionsPerIP: 512,
			Handlers:            256,
			TrustedProxies:      []string{"10.0.0.0/8", "192.168.1.10", "fd00::/8"},
		},
		Admin: Admin{Listen: addrs("tcp://127.0.0.1:9091"), Pprof: true},
		KCP: KCP{
			Listen:       addrs("udp://:7001"),
			Mode:         "normal",
			SendWindow:   256,
			RecvWindow:   512,
			MTU:          1350,
			MaxSessions:  20000,
			Cookies:      "always",
			DataShards:   10,
			ParityShards: 3,
			Key:          "correct horse battery staple",
		},
		TLS: TLS{
			Cert:             "/etc/wharf/tls/cert.pem",
			Key:              "/etc/wharf/tls/key.pem",
			SNICerts:         []string{"/etc/wharf/tls/chat.example.com.pem", "/etc/wharf/tls/iot.crt,/etc/wharf/tls/iot.key"},
			MinVersion:       "1.3",
			ALPN:             []string{"wharf"},
			ClientCA:         "/etc/wharf/tls/devices-ca.pem",
			HandshakeTimeout: Duration(5 * time.Second),
		},
		Chat: Chat{
			RegisterPerIP:             20,
			RegisterRate:              16,
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
			Lobby: "room:lobby", History: "sql", StreamTTL: Duration(48 * time.Hour), MaxDataSize: 4096, MaxChannelsPerConn: 64,
			DirectMessages: "users", PublishBurst: 20, PublishInterval: Duration(200 * time.Millisecond),
			PublishPerIPBurst: 100, PublishPerIPInterval: Duration(10 * time.Millisecond),
			Namespaces: []Namespace{
				{Name: "", Subscribe: "users", Publish: "users"},
				{Name: "room", Subscribe: "users", Publish: "users", Presence: true, JoinLeave: true, HistorySize: 100, HistoryTTL: Duration(24 * time.Hour), MaxSubscribers: 50000},
				{Name: "user", Subscribe: "owner", Publish: "server", HistorySize: 100},
				{Name: "scores", Subscribe: "anyone", Publish: "server", HistorySize: 10, HistoryTTL: Duration(10 * time.Minute)},
			},
		},
		JWT: JWT{
			HMACSecret: "a secret the backend and wharfd share, 32+ bytes", PublicKeyFile: "/etc/wharf/backend-jwt.pub",
			Issuer: "https://backend.example.com", Audience: "wharf", Leeway: Duration(5 * time.Second),
		},
		Push: Push{Keys: []string{"k3y-for-the-backend-0123456789", "a-second-key-while-rotating"}, MaxBody: 128 << 10, MaxChannels: 500, Rate: 5000, Burst: 10000},
		Log: Log{
			Level:      "warn",
			Format:     "json",
			File:       "/var/log/wharf/wharfd.log",
			Async:      true,
			Source:     false,
			MaxSize:    256 << 20,
			MaxBackups: 14,
			MaxAge:     Duration(720 * time.Hour),
			Daily:      true,
			OnFull:     "drop",
		},
		Database: Database{
			URL:          "postgres://wharf:secret@db.internal:5432/wharf?sslmode=require",
			MaxOpenConns: 40,
		},
		Cluster: Cluster{
			Broker:        "nats://nats-1.internal:4222,nats://nats-2.internal:4222",
			NodeName:      "web-1",
			SubjectPrefix: "acme.prod",
			Heartbeat:     Duration(500 * time.Millisecond),
			DeadAfter:     Duration(2 * time.Second),
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(example) =\n%+v\nwant\n%+v", c, want)
	}
}

// TestExampleHasEveryKey keeps testdata/wharf.toml complete: it is the
// documentation the README points at.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile("testdata/wharf.toml")
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader("wharf.toml")
	c := Default()
	l.decode(&c, data)
	for key := range schema.keys {
		if _, ok := l.pos[key]; !ok {
			t.Errorf("testdata/wharf.toml does not show key %s", key)
		}
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range schema.keys {
		if !strings.Contains(string(doc), "//\t"+f.name+" ") {
			t.Errorf("doc.go does not document key %s", f.key)
		}
	}
}

func TestResolved(t *testing.T) {
	tests := []struct {
		name      string
		dataDir   string
		url       string
		processes Processes
		wantURL   string
		wantProcs int
	}{
		{name: "defaults", dataDir: "./data", wantURL: "sqlite://./data/wharf.db"},
		{name: "absolute", dataDir: "/var/lib/wharf/", wantURL: "sqlite:///var/lib/wharf/wharf.db", processes: 3, wantProcs: 3},
		{name: "root", dataDir: "/", wantURL: "sqlite:///wharf.db"},
		{name: "url wins", dataDir: "./data", url: "postgres://h/db", wantURL: "postgres://h/db"},
		{name: "auto", dataDir: "d", processes: ProcessesAuto, wantURL: "sqlite://d/wharf.db", wantProcs: runtime.NumCPU()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.DataDir, c.Database.URL, c.Processes = tt.dataDir, tt.url, tt.processes
			if got := c.ResolvedDatabaseURL(); got != tt.wantURL {
				t.Errorf("ResolvedDatabaseURL() = %q, want %q", got, tt.wantURL)
			}
			if got := c.ResolvedProcesses(); got != tt.wantProcs {
				t.Errorf("ResolvedProcesses() = %d, want %d", got, tt.wantProcs)
			}
			wantHistory := "memory"
			if tt.processes == ProcessesAuto || tt.processes > 1 {
				wantHistory = "sql" // "auto" history: the workers share the database's
			}
			if got := c.ResolvedHistory(); got != wantHistory {
				t.Errorf("ResolvedHistory() = %q, want %q", got, wantHistory)
			}
		})
	}
}

// TestLeaf enforces that config imports nothing from the wharf module but
// the leaf packages endpoint and internal/subject (the cluster's name
// rules), so that any package may import config.
func TestLeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			leaf := path == "wharf/config" || path == "wharf/endpoint" || path == "wharf/internal/subject"
			if !leaf && (path == "wharf" || strings.HasPrefix(path, "wharf/")) {
				t.Errorf("%s imports %s: config must import no wharf package but endpoint and internal/subject", name, path)
			}
		}
	}
}

// addrs parses valid addresses for a Listen field.
func addrs(ss ...string) []endpoint.Addr {
	out := make([]endpoint.Addr, len(ss))
	for i, s := range ss {
		out[i] = endpoint.MustParse(s)
	}
	return out
}

func TestResolvedNodeName(t *testing.T) {
	c := Default()
	c.Cluster.NodeName = "web-1"
	if got := c.ResolvedNodeName(); got != "web-1" {
		t.Errorf("ResolvedNodeName() = %q", got)
	}
	// From the host name: always a valid node name.
	c.Cluster.NodeName = ""
	got := c.ResolvedNodeName()
	if got == "" || subject.NodeNameProblem(got) != "" {
		t.Errorf("ResolvedNodeName() from the host name = %q: %s", got, subject.NodeNameProblem(got))
	}
	if host, err := os.Hostname(); err == nil && host != "" && !strings.ContainsAny(host, ".") && len(host) <= subject.MaxNodeName && got != host {
		t.Errorf("ResolvedNodeName() = %q, host %q", got, host)
	}
}
