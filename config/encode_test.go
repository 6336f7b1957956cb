package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"wharf/endpoint"
)

// roundTrip checks that c survives TOML and Parse unchanged.
func roundTrip(t *testing.T, c Config) {
	t.Helper()
	data, err := c.TOML()
	if err != nil {
		t.Fatalf("TOML(): %v", err)
	}
	back, err := Parse(data, "printed.toml")
	if err != nil {
		t.Fatalf("Parse(TOML()): %v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("Parse(TOML(c)) =\n%+v\nwant\n%+v\ndocument:\n%s", back, c, data)
	}
}

func TestTOMLRoundTrip(t *testing.T) {
	t.Run("defaults", func(t *testing.T) { roundTrip(t, Default()) })
	t.Run("example", func(t *testing.T) {
		c, err := noEnv.Load("testdata/wharf.toml")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c)
	})
	t.Run("awkward values", func(t *testing.T) {
		c := Default()
		c.PIDFile = "/run/a \"quoted\" \\path\\\t\x01\x7f\u00e9\U0001F600.pid"
		c.DataDir = "line1\nline2\r\f\b"
		c.KCP.Key = `'''"""#=[]{}`
		c.Server.Listen = addrs("unix:///tmp/é s.sock", "tcp://[::1]:7000")
		c.HTTP.Listen = nil
		c.Server.IdleTimeout = Duration(1500 * time.Microsecond)
		c.DrainTimeout = Duration(time.Hour + time.Nanosecond)
		c.Server.MaxPacket = 12345
		c.Log.MaxSize = 3e12
		c.Log.MaxAge = 0
		c.Processes = 7
		roundTrip(t, c)
		c.Processes = ProcessesAuto
		roundTrip(t, c)
	})
	t.Run("namespaces", func(t *testing.T) {
		c := Default()
		c.Channels.Lobby = "games:lobby"
		c.Channels.Namespaces = []Namespace{{Name: "games", Subscribe: "anyone", Publish: "server", Presence: true, HistorySize: 7, HistoryTTL: Duration(time.Minute), MaxSubscribers: 3}}
		c.Push.Keys = []string{"0123456789abcdef-key"}
		roundTrip(t, c)
		c.Channels.Namespaces = nil // all refused: printed as namespace = []
		c.Channels.Lobby = ""
		data, err := c.TOML()
		if err != nil || !strings.Contains(string(data), "namespace               = []") {
			t.Fatalf("no namespaces printed as:\n%s (%v)", data, err)
		}
	})
}

func TestTOMLText(t *testing.T) {
	data, err := Default().TOML()
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"\nprocesses     = 0\n",
		"\n[server]\nlisten                 = [\"tcp://:7000\"]\n",
		"\nidle_timeout           = \"1m\"\n",
		"\nmax_packet             = \"16KiB\"\n",
		"\ntrusted_proxies        = []\n",
		"\n[database]\nurl            = \"\"\nmax_open_conns = 0\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("TOML() lacks %q:\n%s", want, text)
		}
	}

	c := Default()
	c.Processes = ProcessesAuto
	c.Log.MaxSize = 1000001
	data, _ = c.TOML()
	if !strings.Contains(string(data), "processes     = \"auto\"\n") || !strings.Contains(string(data), "max_size    = 1000001\n") {
		t.Errorf("auto processes and plain sizes:\n%s", data)
	}

	c.Log.File = "bad\xffutf8"
	if _, err := c.TOML(); err == nil || !strings.Contains(err.Error(), "log.file") {
		t.Errorf("TOML() with invalid UTF-8 = %v, want an error naming log.file", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"processes", func(c *Config) { c.Processes = -3 }, `processes: -3 is out of range (0..1024 or "auto")`},
		{"max_packet", func(c *Config) { c.Server.MaxPacket = 65536 }, "server.max_packet: 65536 is out of range (9..65535)"},
		{"negative size", func(c *Config) { c.HTTP.MaxBodyBytes = -1 }, "http.max_body_bytes: -1 must be at least 1"},
		{"zero header size", func(c *Config) { c.HTTP.MaxHeaderBytes = 0 }, "http.max_header_bytes: 0 must be at least 1"},
		{"negative duration", func(c *Config) { c.Server.StatsInterval = Duration(-time.Second) }, "server.stats_interval: -1s must not be negative"},
		{"relation", func(c *Config) { c.Server.MaxPendingPerConn = 60000 }, "server.max_pending_per_conn: 60000 must not exceed server.max_pending_total (50000)"},
		{"header timeout", func(c *Config) { c.HTTP.ReadHeaderTimeout = Duration(2 * time.Minute) }, "http.read_header_timeout: 2m must not exceed http.read_timeout (1m)"},
		{"no read timeout", func(c *Config) { c.HTTP.ReadTimeout = 0; c.HTTP.ReadHeaderTimeout = Duration(time.Hour) }, ""},
		{"empty lists", func(c *Config) { c.HTTP.Listen = nil; c.KCP.Listen = []endpoint.Addr{} }, ""},
		{"enum", func(c *Config) { c.KCP.Mode = "turbo" }, `kcp.mode: "turbo" is not "default", "normal" or "fast"`},
		{"on_full", func(c *Config) { c.Log.OnFull = "dropp" }, `log.on_full: "dropp" is not "block" or "drop" (did you mean "drop"?)`},
		{"windows", func(c *Config) { c.KCP.SendWindow = 0; c.KCP.RecvWindow = 70000 }, "kcp.send_window: 0 is out of range (1..65535)\nkcp.recv_window: 70000 is out of range (1..65535)"},
		{"sessions", func(c *Config) { c.KCP.MaxSessions = 0 }, "kcp.max_sessions: 0 must be at least 1"},
		{"fec", func(c *Config) { c.KCP.DataShards = 4 }, "kcp.data_shards: 4 needs kcp.parity_shards > 0 too, or both 0 to turn FEC off (0)"},
		{"fec on", func(c *Config) { c.KCP.DataShards, c.KCP.ParityShards = 10, 3 }, ""},
		{"bad counts", func(c *Config) {
			c.Server.MaxConnections = 0
			c.Server.MaxBadPackets = 0
			c.Server.Handlers = -1
			c.Log.MaxBackups = -1
			c.Database.MaxOpenConns = -1
		}, "server.max_connections: 0 must be at least 1\nserver.handlers: -1 must not be negative\nserver.max_bad_packets: 0 must be at least 1\nlog.max_backups: -1 must not be negative\ndatabase.max_open_conns: -1 must not be negative"},
		{"database", func(c *Config) { c.Database.URL = "sqlite:///var/lib/w.db" }, ""},
		{"postgresql", func(c *Config) { c.Database.URL = "postgresql://u:p@h/db" }, ""},
		{"no scheme", func(c *Config) { c.Database.URL = "/var/lib/w.db" }, `database.url: want "sqlite://PATH" or "postgres://USER:PASSWORD@HOST/DB"`},
		{"ipv6 listeners", func(c *Config) {
			c.Server.Listen = append(addrs("tcp6://[::]:7000", "tcp4://127.0.0.1:7000"), endpoint.Addr{Scheme: "tcp6", Host: "127.0.0.1", Port: 1})
		}, `server.listen[2]: "tcp6://127.0.0.1:1": tcp6 needs an IPv6 address`},
		{"duplicate", func(c *Config) { c.KCP.Listen = addrs("udp://:7001", "udp://:7001") }, `kcp.listen[1]: "udp://:7001" is listed twice (also kcp.listen[0])`},
		{"tcp and udp share a port", func(c *Config) { c.KCP.Listen = addrs("udp://:7000") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrValue) {
				t.Errorf("not ErrValue")
			}
			for _, p := range problems(t, err) {
				if p.File != "" || p.Line != 0 || p.Env != "" || p.Default {
					t.Errorf("Validate problem %+v has a location", p)
				}
			}
		})
	}
}
