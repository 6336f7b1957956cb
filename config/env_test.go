package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes a config file in a temporary directory and returns its
// path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wharf.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnvOverrides(t *testing.T) {
	path := writeFile(t, "processes = 2\n[server]\nidle_timeout = \"10s\"\nloops = 3\n[kcp]\nmtu = 1000\n")
	env := []string{
		"HOME=/root",
		"WHARF_PROCESSES=auto",
		"WHARF_DAEMON=1",
		"WHARF_PID_FILE=/run/w.pid",
		"WHARF_SERVER_IDLE_TIMEOUT=30s",
		"WHARF_SERVER_LISTEN=tcp://:7000, :7002", // tcp implied
		"WHARF_SERVER_MAX_PACKET=32KiB",
		"WHARF_HTTP_LISTEN=",
		"WHARF_KCP_LISTEN=127.0.0.1:7005", // udp implied
		"WHARF_HTTP_TRUSTED_PROXIES=10.0.0.0/8",
		"WHARF_LOG_FILE=/tmp/w.log",
		"WHARF_LOG_SOURCE=false",
		"WHARF_KCP_KEY=a=b,c", // "=" and "," are kept in a string
		"WHARF_DATABASE_MAX_OPEN_CONNS=9",
		"WHARF_SUPERVISOR_LISTENERS=3,4,5", // internal: ignored
		"WHARF_TEST_CHILD=1",               // internal: ignored
		"wharf_server_loops=9",             // not our prefix: ignored
		"WHARF_KCP_MTU=1200",
		"WHARF_KCP_MTU=50", // listed twice: the first wins, as os.Getenv
		"NOEQUALS",
	}
	c, err := LoadOptions{Environ: env}.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Processes = ProcessesAuto
	want.Daemon = true
	want.PIDFile = "/run/w.pid"
	want.Server.IdleTimeout = Duration(30 * time.Second)
	want.Server.Loops = 3 // from the file
	want.Server.Listen = addrs("tcp://:7000", "tcp://:7002")
	want.Server.MaxPacket = 32768
	want.HTTP.Listen = nil
	want.KCP.Listen = addrs("udp://127.0.0.1:7005")
	want.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	want.Log.File = "/tmp/w.log"
	want.Log.Source = false
	want.KCP.Key = "a=b,c"
	want.KCP.MTU = 1200
	want.Database.MaxOpenConns = 9
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", c, want)
	}

	// Without a file: defaults and the environment.
	c, err = LoadOptions{Environ: []string{"WHARF_SERVER_ENGINE=goroutine"}}.Load("")
	if err != nil || c.Server.Engine != "goroutine" || c.KCP.MTU != 1400 {
		t.Errorf("Load(\"\") = %+v, %v", c, err)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string // "" for no file
		env   []string
		want  string
		class error
	}{
		{
			name:  "unknown variable",
			env:   []string{"WHARF_SERVR_LISTEN=tcp://:1", "WHARF_HOME=/x"},
			want:  "unknown environment variable WHARF_HOME\nunknown environment variable WHARF_SERVR_LISTEN (did you mean WHARF_SERVER_LISTEN?)",
			class: ErrUnknownEnv,
		},
		{
			name:  "table name alone",
			env:   []string{"WHARF_SERVER=1"},
			want:  "unknown environment variable WHARF_SERVER",
			class: ErrUnknownEnv,
		},
		{
			name:  "bad duration",
			env:   []string{"WHARF_SERVER_IDLE_TIMEOUT=60"},
			want:  `server.idle_timeout: invalid duration "60" (want a number with a unit: ns, us, ms, s, m or h, e.g. "1m30s") (from WHARF_SERVER_IDLE_TIMEOUT)`,
			class: ErrValue,
		},
		{
			name:  "bad integer",
			env:   []string{"WHARF_KCP_MTU=big"},
			want:  `kcp.mtu: invalid integer "big" (from WHARF_KCP_MTU)`,
			class: ErrValue,
		},
		{
			name:  "bad boolean",
			env:   []string{"WHARF_DAEMON=yes"},
			want:  `daemon: invalid boolean "yes" (want true or false) (from WHARF_DAEMON)`,
			class: ErrValue,
		},
		{
			name:  "bad size",
			env:   []string{"WHARF_LOG_MAX_SIZE=10 MiBs"},
			want:  `log.max_size: invalid size "10 MiBs": unknown unit "MiBs" (want KB, MB, GB, TB, KiB, MiB, GiB or TiB) (from WHARF_LOG_MAX_SIZE)`,
			class: ErrValue,
		},
		{
			name:  "a list of tables",
			env:   []string{"WHARF_CHANNELS_NAMESPACE=room"},
			want:  `channels.namespace: a list of tables ([[channels.namespace]]) cannot be set from the environment: set it in the file (from WHARF_CHANNELS_NAMESPACE)`,
			class: ErrValue,
		},
		{
			name:  "memory history for workers from the environment",
			env:   []string{"WHARF_PROCESSES=auto", "WHARF_CHANNELS_HISTORY=memory"},
			want:  `channels.history: "memory" keeps history in each worker process, and processes (auto, from WHARF_PROCESSES) would number publications each on its own: set channels.history = "sql" (the [database]) (from WHARF_CHANNELS_HISTORY)`,
			class: ErrValue,
		},
		{
			name:  "bad processes",
			env:   []string{"WHARF_PROCESSES=all"},
			want:  `processes: invalid processes "all" (want "auto" or a number from 0 to 1024) (from WHARF_PROCESSES)`,
			class: ErrValue,
		},
		{
			name:  "empty list element",
			env:   []string{"WHARF_SERVER_LISTEN=tcp://:1,,tcp://:2"},
			want:  `server.listen: element 1 of "tcp://:1,,tcp://:2" is empty (separate list elements with single commas) (from WHARF_SERVER_LISTEN)`,
			class: ErrValue,
		},
		{
			name:  "empty server list",
			env:   []string{"WHARF_SERVER_LISTEN="},
			want:  `server.listen: must list at least one address (from WHARF_SERVER_LISTEN)`,
			class: ErrValue,
		},
		{
			name:  "out of range, with a file",
			file:  "[kcp]\nmtu = 1000\n",
			env:   []string{"WHARF_KCP_MTU=20"},
			want:  `kcp.mtu: 20 is out of range (50..1500) (from WHARF_KCP_MTU)`,
			class: ErrValue,
		},
		{
			name:  "list element",
			env:   []string{"WHARF_KCP_LISTEN=udp://:1,tcp://:2"},
			want:  `kcp.listen[1]: "tcp://:2": scheme must be udp, udp4 or udp6 (from WHARF_KCP_LISTEN)`,
			class: ErrValue,
		},
		{
			name:  "relation with the file",
			file:  "\n[server]\nmax_pending_total = 1000\n",
			env:   []string{"WHARF_SERVER_MAX_PENDING_PER_CONN=5000"},
			want:  `server.max_pending_per_conn: 5000 must not exceed server.max_pending_total (1000, line 3) (from WHARF_SERVER_MAX_PENDING_PER_CONN)`,
			class: ErrValue,
		},
		{
			name:  "relation with the environment, blamed on it",
			file:  "[server]\nmax_pending_per_conn = 100\n",
			env:   []string{"WHARF_SERVER_MAX_PENDING_TOTAL=50"},
			want:  `server.max_pending_total: 50 must be at least server.max_pending_per_conn (100, line 2) (from WHARF_SERVER_MAX_PENDING_TOTAL)`,
			class: ErrValue,
		},
		{
			name:  "duplicate listener from the environment",
			file:  "[server]\nlisten = [\"tcp://:9000\"]\n",
			env:   []string{"WHARF_HTTP_LISTEN=tcp://:9000"},
			want:  `http.listen[0]: "tcp://:9000" is also in server.listen ("tcp://:9000", line 2) (from WHARF_HTTP_LISTEN)`,
			class: ErrValue,
		},
		{
			name:  "a bad file value is reported even when overridden",
			file:  "[server]\nidle_timeout = \"6os\"\n",
			env:   []string{"WHARF_SERVER_IDLE_TIMEOUT=5s"},
			want:  `wharf.toml:2:1: server.idle_timeout: invalid duration "6os" (want a number with a unit: ns, us, ms, s, m or h, e.g. "1m30s")`,
			class: ErrValue,
		},
		{
			name:  "file problems first",
			file:  "[kcp]\nmtu = 1\n",
			env:   []string{"WHARF_LOG_LEVEL=loud"},
			want:  "wharf.toml:2:1: kcp.mtu: 1 is out of range (50..1500)\nlog.level: \"loud\" is not \"debug\", \"info\", \"warn\" or \"error\" (from WHARF_LOG_LEVEL)",
			class: ErrValue,
		},
		{
			name:  "syntax error skips the environment",
			file:  "[kcp\n",
			env:   []string{"WHARF_NOPE=1"},
			want:  "wharf.toml:1:5: syntax error: expected ']' to close table name",
			class: ErrSyntax,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := LoadOptions{Environ: tt.env}.Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			got := err.Error()
			if path != "" {
				got = strings.ReplaceAll(got, path, "wharf.toml")
			}
			if got != tt.want {
				t.Errorf("Load error:\n%s\nwant:\n%s", got, tt.want)
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("error is not %v", tt.class)
			}
			for _, p := range problems(t, err) {
				if p.Line == 0 && p.Env == "" {
					t.Errorf("problem %q has neither a line nor a variable", p)
				}
				if p.Env != "" && p.File != "" {
					t.Errorf("problem %q from %s names file %q", p, p.Env, p.File)
				}
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := noEnv.Load(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: open ") {
		t.Errorf("Load(missing) = %v, want a config: open ... fs.ErrNotExist", err)
	}
	_, err = noEnv.Load(t.TempDir())
	if err == nil {
		t.Error("Load(directory) succeeded")
	}

	// The path given is the name in messages.
	path := writeFile(t, "[kcp]\nmtu = 1\n")
	_, err = noEnv.Load(path)
	var e *Error
	if !errors.As(err, &e) || e.File != path || e.Line != 2 {
		t.Errorf("Load error = %#v, want File %q Line 2", e, path)
	}
}

func TestDefaultNotes(t *testing.T) {
	// Defaults are valid on their own, so a default is never the value
	// blamed: a conflict is reported on the key that was set, with a note
	// naming the other value as the default.
	_, err := LoadOptions{Environ: []string{"WHARF_HTTP_READ_TIMEOUT=1s"}}.Load("")
	want := `http.read_timeout: 1s must be at least http.read_header_timeout (10s, default) (from WHARF_HTTP_READ_TIMEOUT)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestErrorString(t *testing.T) {
	p := valueProblem("9000 is out of range (50..1500)")
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "w.toml", Line: 20, Col: 1, Key: "kcp.mtu", Err: p}, "w.toml:20:1: kcp.mtu: 9000 is out of range (50..1500)"},
		{Error{File: "w.toml", Line: 20, Key: "kcp.mtu", Err: p}, "w.toml:20: kcp.mtu: 9000 is out of range (50..1500)"},
		{Error{File: "w.toml", Key: "kcp.mtu", Default: true, Err: p}, "w.toml: kcp.mtu: 9000 is out of range (50..1500) (default)"},
		{Error{Key: "kcp.mtu", Env: "WHARF_KCP_MTU", Err: p}, "kcp.mtu: 9000 is out of range (50..1500) (from WHARF_KCP_MTU)"},
		{Error{Key: "kcp.mtu", Err: p}, "kcp.mtu: 9000 is out of range (50..1500)"},
		{Error{File: "w.toml", Line: 3, Col: 1, Key: "sever", Err: &problem{class: ErrUnknownKey, msg: `unknown key "sever"`}}, `w.toml:3:1: unknown key "sever"`},
		{Error{Env: "WHARF_X", Err: &problem{class: ErrUnknownEnv, msg: "unknown environment variable WHARF_X"}}, "unknown environment variable WHARF_X"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
