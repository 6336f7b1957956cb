package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"wharf/config"
	"wharf/endpoint"
)

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "wharf")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "wharf.toml")
	os.WriteFile(path, []byte(`
processes = 4

[server]
listen = ["tcp://:7000", "tcp://:7002"]
idle_timeout = "90s"
`), 0o644)

	c, err := config.Load(path) // also applies WHARF_* variables
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.ResolvedProcesses(), c.Server.Listen, time.Duration(c.Server.IdleTimeout))
	fmt.Println(c.KCP.MTU, c.ResolvedDatabaseURL()) // defaults
	// Output:
	// 4 [tcp://:7000 tcp://:7002] 1m30s
	// 1400 sqlite://./data/wharf.db
}

func ExampleLoadOptions_Load() {
	// Tests substitute the environment; "" loads no file.
	opts := config.LoadOptions{Environ: []string{
		"WHARF_SERVER_LISTEN=tcp://127.0.0.1:0",
		"WHARF_HTTP_LISTEN=", // an empty list disables HTTP
		"WHARF_LOG_LEVEL=debug",
	}}
	c, err := opts.Load("")
	fmt.Println(c.Server.Listen, len(c.HTTP.Listen), c.Log.Level, err)

	_, err = config.LoadOptions{Environ: []string{"WHARF_SERVER_LOOPZ=2"}}.Load("")
	fmt.Println(err)
	// Output:
	// [tcp://127.0.0.1:0] 0 debug <nil>
	// unknown environment variable WHARF_SERVER_LOOPZ (did you mean WHARF_SERVER_LOOPS?)
}

func ExampleParse() {
	_, err := config.Parse([]byte(`
[sever]
loops = 2

[kcp]
mtu = 9000
`), "wharf.toml")
	fmt.Println(err)

	var e *config.Error
	if errors.As(err, &e) {
		fmt.Println(e.Line, e.Key, errors.Is(err, config.ErrUnknownKey), errors.Is(err, config.ErrValue))
	}
	// Output:
	// wharf.toml:2:2: unknown key "sever" (did you mean "server"?)
	// wharf.toml:6:1: kcp.mtu: 9000 is out of range (50..1500)
	// 2 sever true true
}

func ExampleDefault() {
	c := config.Default()
	c.Log.Level = "debug"
	data, _ := c.TOML() // what wharfd -print-config prints
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") || strings.HasPrefix(line, "level") || strings.HasPrefix(line, "max_packet") {
			fmt.Println(line)
		}
	}
	// Output:
	// [server]
	// max_packet             = "16KiB"
	// [http]
	// [kcp]
	// [admin]
	// [tls]
	// [chat]
	// [channels]
	// [[channels.namespace]]
	// [[channels.namespace]]
	// [[channels.namespace]]
	// [jwt]
	// [push]
	// [log]
	// level       = "debug"
	// [database]
	// [cluster]
}

func ExampleConfig_TOML() {
	c := config.Default()
	c.Processes = config.ProcessesAuto
	data, _ := c.TOML()
	back, err := config.Parse(data, "printed.toml")
	fmt.Println(back.Processes, err)
	// Output:
	// auto <nil>
}

func ExampleConfig_Validate() {
	c := config.Default()
	c.Server.FloodCount = 1
	c.KCP.Listen = []endpoint.Addr{endpoint.MustParse("tcp://:7001")}
	fmt.Println(c.Validate())
	// Output:
	// server.flood_count: 1 must be at least 2
	// kcp.listen[0]: "tcp://:7001": scheme must be udp, udp4 or udp6
}

func ExampleConfig_ResolvedDatabaseURL() {
	c := config.Default()
	c.DataDir = "/var/lib/wharf"
	fmt.Println(c.ResolvedDatabaseURL())
	c.Database.URL = "postgres://wharf@db/wharf"
	fmt.Println(c.ResolvedDatabaseURL())
	// Output:
	// sqlite:///var/lib/wharf/wharf.db
	// postgres://wharf@db/wharf
}

func ExampleConfig_ResolvedProcesses() {
	c := config.Default()
	fmt.Println(c.ResolvedProcesses()) // 0: no master, one process
	c.Processes = 3
	fmt.Println(c.ResolvedProcesses())
	// Output:
	// 0
	// 3
}

func ExampleSize() {
	var s config.Size
	for _, text := range []string{"16KiB", "64KB", "1.5MiB", "512"} {
		s.UnmarshalText([]byte(text))
		fmt.Println(int64(s), s)
	}
	// Output:
	// 16384 16KiB
	// 64000 64KB
	// 1572864 1536KiB
	// 512 512
}

func ExampleDuration() {
	var d config.Duration
	fmt.Println(d.UnmarshalText([]byte("90s")), time.Duration(d), d)
	fmt.Println(d.UnmarshalText([]byte("7d")) != nil)
	// Output:
	// <nil> 1m30s 1m30s
	// true
}

func ExampleProcesses() {
	var p config.Processes
	p.UnmarshalText([]byte("auto"))
	fmt.Println(p == config.ProcessesAuto, p)
	// Output:
	// true auto
}

func ExampleError() {
	_, err := config.LoadOptions{Environ: []string{"WHARF_SERVER_IDLE_TIMEOUT=60"}}.Load("")
	var e *config.Error
	errors.As(err, &e)
	fmt.Println(e.Key, e.Env, e.Line)
	fmt.Println(e)
	// Output:
	// server.idle_timeout WHARF_SERVER_IDLE_TIMEOUT 0
	// server.idle_timeout: invalid duration "60" (want a number with a unit: ns, us, ms, s, m or h, e.g. "1m30s") (from WHARF_SERVER_IDLE_TIMEOUT)
}
