package loadgen

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// The JSON field names are the schema scripts rely on: a rename must be a
// deliberate change of Schema, so the names are spelled out here.
func TestResultSchema(t *testing.T) {
	keys := func(v any) []string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"Result", Result{StatusCodes: map[string]int64{"200": 1}, Pushes: &Pushes{}, Logins: &Logins{}, Hold: &Hold{}, Hints: []string{"x"}},
			"bytes_received bytes_sent command connections elapsed_s errors exit_code hints hold latency logins ok options pushes requests requests_per_s schema setup_s started status_codes targets"},
		{"Result, omitted parts", Result{},
			"bytes_received bytes_sent command connections elapsed_s errors exit_code latency ok options requests requests_per_s schema setup_s started targets"},
		{"Conns", Conns{}, "dropped failed opened peak reconnects target"},
		{"Errors", Errors{}, "by_kind max_allowed total"},
		{"Latency", Latency{}, "count max_us mean_us min_us p50_us p90_us p999_us p99_us"},
		{"Pushes", Pushes{}, "bytes count per_s"},
		{"Logins", Logins{}, "duration_s existing failed latency logged_in per_s registered"},
		{"Hold", Hold{}, "children dial_errors drops final heartbeat_s held_s peak pings pongs procs reached reconnects skipped_heartbeats sources target time_to_target_s"},
		{"HoldChild", HoldChild{}, "base_rss_bytes exit final index peak pid rss_bytes rss_bytes_per_conn target"},
	}
	for _, tt := range tests {
		if got := strings.Join(keys(tt.v), " "); got != tt.want {
			t.Errorf("%s keys:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	r := &Result{
		Schema: Schema, Command: "hold", Targets: []string{"127.0.0.1:7000"}, Options: map[string]string{"c": "10"},
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), ElapsedS: 1.5,
		Conns:   Conns{Target: 10, Opened: 12, Dropped: 2, Reconnects: 2, Peak: 10},
		Latency: &Latency{Count: 3, Min: 1, Mean: 2, P50: 2, P90: 3, P99: 3, P999: 3, Max: 3},
		Errors:  Errors{Total: 2, MaxAllowed: 0, ByKind: map[string]int64{"drop:reset": 2}},
		Hold: &Hold{Target: 10, Final: 10, Drops: map[string]int64{"reset": 2}, DialErrors: map[string]int64{},
			Children: []HoldChild{{Index: 0, PID: 7, Final: 10, RSSBytes: 3 << 20, BaseRSSBytes: 2 << 20, BytesPerConn: 104857.6, Exit: "ok"}}},
		Hints: []string{"look"}, ExitCode: 1,
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 || !strings.HasSuffix(buf.String(), "}\n") {
		t.Fatalf("WriteJSON wrote %q, want one line", buf.String())
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, *r)
	}
}

func TestWriteText(t *testing.T) {
	r := &Result{Command: "echo", Targets: []string{"127.0.0.1:9000"}, Requests: 1234567, RequestsPerS: 98765.4,
		Latency: &Latency{Count: 1234567, P50: 45, P90: 80, P99: 150, P999: 1500, Max: 2.1e6},
		Errors:  Errors{Total: 3, MaxAllowed: 0, ByKind: map[string]int64{"dial:refused": 2, "drop:reset": 1}},
		Hints:   []string{"check the server"}, ExitCode: 1}
	var b bytes.Buffer
	r.WriteText(&b)
	for _, want := range []string{"1,234,567 (98,765/s)", "p50 45µs", "p99.9 1.50ms", "max 2.10s", "3 (max 0): dial:refused 2, drop:reset 1",
		"hint: check the server", "FAILED (exit status 1)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Num(0), "0"}, {Num(999), "999"}, {Num(1000), "1,000"}, {Num(-1234567), "-1,234,567"},
		{Bytes(512), "512 B"}, {Bytes(1536), "1.5 KiB"}, {Bytes(3 << 30), "3.0 GiB"},
		{US(85.4), "85µs"}, {US(1250), "1.25ms"}, {US(2.5e6), "2.50s"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// Off a terminal the progress line draws nothing; Println still writes.
func TestProgressOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 100, false)
	if p.Drawing() {
		t.Fatal("drawing on a bytes.Buffer")
	}
	p.Update(50, "half")
	p.Println("status %d", 7)
	p.Finish()
	if b.String() != "status 7\n" {
		t.Fatalf("wrote %q, want only the Println line", b.String())
	}
}
