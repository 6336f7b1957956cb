package web

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"wharf/engine"
	"wharf/httpd"
	"wharf/server"
)

// scrape fetches /metrics and parses the text format.
func scrape(t *testing.T, e *env) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := e.admin.Client().Get(e.admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels
// include want; ok is false if there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		got := map[string]string{}
		for _, lp := range m.Label {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func withClosed(s engine.Stats, r engine.CloseReason, n uint64) engine.Stats {
	s.ClosedBy[r] = n
	return s
}

func scrapeGauge(t *testing.T, e *env, name string) float64 {
	t.Helper()
	v, ok := value(scrape(t, e), name, nil)
	if !ok {
		t.Fatalf("no %s in /metrics", name)
	}
	return v
}

// TestMetrics: the stats the server reports come out of /metrics with
// their values, per transport for the engines, and the HTTP middleware
// counts requests.
func TestMetrics(t *testing.T) {
	stats := Stats{
		Workers: 2,
		Server: server.Stats{
			Online: 3, Accepted: 10, PacketsIn: 100, PacketsOut: 90, BytesIn: 4096, BytesOut: 2048,
			HandlerQueue: 2, SendQueue: 7, Dropped: 1, Overloaded: 4, BadPackets: 5,
			Kicks: server.KickCounts{server.KickIdle: 1, server.KickFlood: 2, server.KickLimit: 6},
			HandlerLatency: server.HistogramSnapshot{
				Bounds: []float64{0.001, 0.01, 0.1}, Counts: []uint64{5, 8, 9, 10}, Sum: 250 * time.Millisecond, Count: 10,
			},
			Transports: map[string]engine.Stats{
				"tcp": {Kind: engine.Reactor, Loops: 2, Open: 2, Accepted: 8},
				"kcp": {Kind: engine.Goroutine, Loops: 1, Open: 1, Accepted: 2},
			},
		},
		HTTP: &httpd.Stats{Requests: 12, ByStatus: map[int]uint64{200: 11, 404: 1}, Engine: engine.Stats{Open: 4}},
	}
	stats.Server.Transports["tcp"] = withClosed(stats.Server.Transports["tcp"], engine.ReasonPeer, 6)
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.Stats = func(context.Context) (Stats, error) { return stats, nil }
	}})
	b := e.browser()
	b.get("/healthz")
	b.get("/healthz")
	b.get("/api/nope")
	b.do("BREW", "/", nil, nil).Body.Close()

	mfs := scrape(t, e)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wharf_connections", nil, 3},
		{"wharf_connections_accepted_total", nil, 10},
		{"wharf_packets_total", map[string]string{"direction": "in"}, 100},
		{"wharf_packets_total", map[string]string{"direction": "out"}, 90},
		{"wharf_bytes_total", map[string]string{"direction": "in"}, 4096},
		{"wharf_bytes_total", map[string]string{"direction": "out"}, 2048},
		{"wharf_queue_depth", map[string]string{"queue": "handler"}, 2},
		{"wharf_queue_depth", map[string]string{"queue": "send"}, 7},
		{"wharf_packets_dropped_total", nil, 1},
		{"wharf_requests_overloaded_total", nil, 4},
		{"wharf_bad_checksums_total", nil, 5},
		{"wharf_workers", nil, 2},
		{"wharf_kicks_total", map[string]string{"reason": "idle"}, 1},
		{"wharf_kicks_total", map[string]string{"reason": "flood"}, 2},
		{"wharf_kicks_total", map[string]string{"reason": "limit"}, 6},
		{"wharf_kicks_total", map[string]string{"reason": "bad_crc"}, 0},
		{"wharf_handler_latency_seconds", nil, 10},
		{"wharf_engine_connections", map[string]string{"transport": "tcp"}, 2},
		{"wharf_engine_connections", map[string]string{"transport": "kcp"}, 1},
		{"wharf_engine_connections", map[string]string{"transport": "http"}, 4},
		{"wharf_engine_loops", map[string]string{"transport": "tcp", "kind": "reactor"}, 2},
		{"wharf_engine_loops", map[string]string{"transport": "kcp", "kind": "goroutine"}, 1},
		{"wharf_engine_accepted_total", map[string]string{"transport": "kcp"}, 2},
		{"wharf_engine_closed_total", map[string]string{"transport": "tcp", "reason": "peer"}, 6},
		{"wharf_httpd_requests_total", nil, 12},
		{"wharf_httpd_responses_total", map[string]string{"code": "404"}, 1},

		{"wharf_http_requests_total", map[string]string{"code": "200", "method": "GET"}, 2},
		{"wharf_http_requests_total", map[string]string{"code": "404", "method": "GET"}, 1},
		{"wharf_http_requests_total", map[string]string{"code": "405", "method": "OTHER"}, 1},
	}
	for _, tt := range tests {
		got, ok := value(mfs, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	for name, typ := range map[string]dto.MetricType{
		"wharf_connections":                   dto.MetricType_GAUGE,
		"wharf_packets_total":                 dto.MetricType_COUNTER,
		"wharf_kicks_total":                   dto.MetricType_COUNTER,
		"wharf_handler_latency_seconds":       dto.MetricType_HISTOGRAM,
		"wharf_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
	} {
		if mf := mfs[name]; mf == nil || mf.GetType() != typ {
			t.Errorf("%s: type %v, want %v", name, mf.GetType(), typ)
		}
	}
	h := mfs["wharf_handler_latency_seconds"].Metric[0].Histogram
	wantBuckets := map[float64]uint64{0.001: 5, 0.01: 8, 0.1: 9, math.Inf(1): 10}
	for _, bk := range h.Bucket {
		if w, ok := wantBuckets[bk.GetUpperBound()]; ok && bk.GetCumulativeCount() != w {
			t.Errorf("latency bucket le=%v: %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), w)
		}
		delete(wantBuckets, bk.GetUpperBound())
	}
	if len(wantBuckets) != 0 || h.GetSampleSum() != 0.25 {
		t.Errorf("latency histogram: missing buckets %v, sum %v", wantBuckets, h.GetSampleSum())
	}
	if n, _ := value(mfs, "wharf_http_request_duration_seconds", nil); n < 4 {
		t.Errorf("request duration histogram counted %v requests, want at least 4", n)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("no %s: runtime and process collectors missing", name)
		}
	}
}

// TestMetricsFromPacketServer: ServerStats of a live packet server reach
// /metrics.
func TestMetricsFromPacketServer(t *testing.T) {
	e := newEnv(t, envOptions{withPackets: true})
	e.tcpUser(t, "bob", "correct horse") // register + login: two handled requests
	// A handler's latency is recorded when it returns, after its reply
	// went out.
	eventually(t, "two latencies recorded", func() bool {
		v, _ := value(scrape(t, e), "wharf_handler_latency_seconds", nil)
		return v >= 2
	})
	mfs := scrape(t, e)
	if v, _ := value(mfs, "wharf_connections", nil); v != 1 {
		t.Errorf("wharf_connections = %v, want 1", v)
	}
	if v, _ := value(mfs, "wharf_packets_total", map[string]string{"direction": "in"}); v < 2 {
		t.Errorf("packets in = %v, want >= 2", v)
	}
	if v, _ := value(mfs, "wharf_handler_latency_seconds", nil); v < 2 {
		t.Errorf("handler latency count = %v, want >= 2", v)
	}
	if v, ok := value(mfs, "wharf_kicks_total", map[string]string{"reason": "flood"}); !ok || v != 0 {
		t.Errorf("kicks{flood} = %v (present %v), want 0", v, ok)
	}
}

// TestMetricsStatsError: a failing Stats costs its own metrics only.
func TestMetricsStatsError(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.Stats = func(context.Context) (Stats, error) { return Stats{}, errors.New("worker gone") }
	}})
	e.browser().get("/healthz")
	mfs := scrape(t, e)
	if _, ok := value(mfs, "wharf_connections", nil); ok {
		t.Error("wharf_connections reported although Stats failed")
	}
	if _, ok := value(mfs, "wharf_http_requests_total", map[string]string{"code": "200"}); !ok {
		t.Error("HTTP metrics missing when Stats failed")
	}
	if !strings.Contains(e.logs.String(), "worker gone") {
		t.Error("the Stats error is not logged")
	}
}

// TestMetricsRegistry: a caller's registry is served, shared, and cleaned
// up by Close.
func TestMetricsRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	mine := prometheus.NewCounter(prometheus.CounterOpts{Name: "callers_own_total", Help: "x"})
	reg.MustRegister(mine)
	mine.Add(42)
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.Registry = reg
		c.Stats = func(context.Context) (Stats, error) { return Stats{Server: server.Stats{Online: 1}}, nil }
	}})
	mfs := scrape(t, e)
	if v, _ := value(mfs, "callers_own_total", nil); v != 42 {
		t.Errorf("caller's metric = %v", v)
	}
	if _, err := New(Config{App: e.app, Registry: reg}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("second Handler on a busy registry: %v", err)
	}
	e.h.Close()
	h2, err := New(Config{App: e.app, Registry: reg})
	if err != nil {
		t.Fatalf("New after Close on the same registry: %v", err)
	}
	h2.Close()
}

// TestPprof: /debug/pprof/ exists only when enabled.
func TestPprof(t *testing.T) {
	tests := []struct {
		name   string
		pprof  bool
		path   string
		status int
	}{
		{"off: index", false, "/debug/pprof/", 404},
		{"off: heap", false, "/debug/pprof/heap", 404},
		{"on: index", true, "/debug/pprof/", 200},
		{"on: goroutine", true, "/debug/pprof/goroutine?debug=1", 200},
		{"on: cmdline", true, "/debug/pprof/cmdline", 200},
		{"on: heap", true, "/debug/pprof/heap?gc=1", 200},
		{"on: cpu profile", true, "/debug/pprof/profile?seconds=1", 200},
		{"on: bad seconds", true, "/debug/pprof/profile?seconds=0", 400},
		{"on: unknown profile", true, "/debug/pprof/nope", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{web: func(c *Config) { c.Pprof = tt.pprof }})
			resp := e.operator().do("GET", tt.path, nil, nil)
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("%s: %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			pub := e.browser().do("GET", tt.path, nil, nil) // never on the public face
			defer pub.Body.Close()
			if pub.StatusCode != 404 {
				t.Fatalf("public %s: %d, want 404", tt.path, pub.StatusCode)
			}
		})
	}
	// pprof must not leak into the default mux, where other code might serve it.
	rec := httptest.NewRecorder()
	http.DefaultServeMux.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != 404 {
		t.Errorf("pprof registered on http.DefaultServeMux (status %d)", rec.Code)
	}
}
