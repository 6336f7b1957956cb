package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics owns what /metrics serves: the collector reading Config.Stats at
// scrape time, the HTTP middleware's counters and the Go runtime
// collectors, all in one registry.
//
// The fields are set by newMetrics; mine is cleared by unregister, which
// runs once (Handler.Close, or a failed New). The Prometheus types are
// safe for concurrent use.
type metrics struct {
	reg      *prometheus.Registry   // Config.Registry
	handler  http.Handler           // promhttp for reg
	requests *prometheus.CounterVec // wharf_http_requests_total{code,method}
	duration prometheus.Histogram   // wharf_http_request_duration_seconds
	streams  prometheus.Gauge       // wharf_http_streams
	mine     []prometheus.Collector // registered by New, unregistered by Close
}

func newMetrics(reg *prometheus.Registry, stats func(context.Context) (map[string]any, error), logger *slog.Logger) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_http_requests_total",
			Help: "HTTP requests answered by the web app, by status code and method.",
		}, []string{"code", "method"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wharf_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request of the web app (live event streams excluded).",
			Buckets: prometheus.DefBuckets,
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wharf_http_streams",
			Help: "Live event streams (/api/events) open.",
		}),
	}
	mine := []prometheus.Collector{m.requests, m.duration, m.streams}
	if stats != nil {
		mine = append(mine, newStatsCollector(stats))
	}
	for _, c := range mine {
		if err := reg.Register(c); err != nil {
			m.unregister()
			return nil, configError("Config.Registry", "%v (is another Handler using this registry?)", err)
		}
		m.mine = append(m.mine, c)
	}
	// The runtime collectors describe the process, not this Handler: one
	// already registered (by the caller, or by a Handler before) is as
	// good as ours, and they stay after Close.
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				m.unregister()
				return nil, configError("Config.Registry", "%v", err)
			}
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{logger},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
	return m, nil
}

func (m *metrics) unregister() {
	for _, c := range m.mine {
		m.reg.Unregister(c)
	}
	m.mine = nil
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// promLogger adapts slog to promhttp's logger.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) { p.l.Warn("web: metrics: " + fmt.Sprint(v...)) }

// middleware counts and times every request.
func (m *metrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				// The panic goes on to the server, which logs it and
				// drops the connection, but is counted as the 500 it is.
				m.requests.WithLabelValues("500", methodLabel(r.Method)).Inc()
				panic(p)
			}
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(strconv.Itoa(code), methodLabel(r.Method)).Inc()
			if !rec.streaming {
				m.duration.Observe(time.Since(start).Seconds())
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// methodLabel keeps the method label to a fixed set: a client choosing the
// method must not be able to create new series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// recorder notes the status a handler answered. It unwraps for
// http.ResponseController, so the event stream can flush through it.
type recorder struct {
	http.ResponseWriter
	status    int
	streaming bool // an event stream: its duration is not a latency
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(p)
}

// FlushError flushes the underlying writer, reporting (unlike Flush)
// that it cannot; http.ResponseController prefers it.
func (rw *recorder) FlushError() error {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return http.NewResponseController(rw.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that test for it.
func (rw *recorder) Flush() { rw.FlushError() }

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// markStreaming tells the middleware that w carries an event stream.
func markStreaming(w http.ResponseWriter) {
	if rec, ok := w.(*recorder); ok {
		rec.streaming = true
	}
}

// statsCollector exposes Config.Stats as Prometheus metrics, calling it at
// each scrape, so the numbers are as fresh as the scrape.
type statsCollector struct {
	stats func(context.Context) (map[string]any, error) // Config.Stats

	// One Desc per metric family; read-only.
	connections, kcpConnections, accepted, packets, bytes, queue *prometheus.Desc
	dropped, overloaded, badCRC, kicks, workers, latency         *prometheus.Desc
}

func newStatsCollector(stats func(context.Context) (map[string]any, error)) *statsCollector {
	d := prometheus.NewDesc
	return &statsCollector{
		stats:          stats,
		connections:    d("wharf_connections", "Open connections, all transports.", nil, nil),
		kcpConnections: d("wharf_kcp_connections", "Open KCP sessions.", nil, nil),
		accepted:       d("wharf_connections_accepted_total", "Connections accepted.", nil, nil),
		packets:        d("wharf_packets_total", "Packets received (in) and sent (out).", []string{"direction"}, nil),
		bytes:          d("wharf_bytes_total", "Bytes received (in) and sent (out).", []string{"direction"}, nil),
		queue:          d("wharf_queue_depth", "Requests waiting for a handler (handler) and packets waiting to be written (send).", []string{"queue"}, nil),
		dropped:        d("wharf_packets_dropped_total", "Outbound packets dropped because the send queues were full.", nil, nil),
		overloaded:     d("wharf_requests_overloaded_total", "Requests refused because the handler queue was full.", nil, nil),
		badCRC:         d("wharf_bad_checksums_total", "Packets dropped for a checksum mismatch.", nil, nil),
		kicks:          d("wharf_kicks_total", "Connections closed by the server, by reason.", []string{"reason"}, nil),
		workers:        d("wharf_workers", "Worker processes reporting.", nil, nil),
		latency:        d("wharf_handler_latency_seconds", "Time from a request's arrival to its handler's return.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.kcpConnections, c.accepted, c.packets, c.bytes, c.queue,
		c.dropped, c.overloaded, c.badCRC, c.kicks, c.workers, c.latency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A key missing from the stats
// leaves its metric out rather than reporting a made-up zero.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.connections, fmt.Errorf("web: stats: %w", err))
		return
	}
	emit := func(d *prometheus.Desc, t prometheus.ValueType, key string, labels ...string) {
		if v, ok := number(st[key]); ok {
			ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
		}
	}
	emit(c.connections, prometheus.GaugeValue, "online")
	emit(c.kcpConnections, prometheus.GaugeValue, "kcp_online")
	emit(c.accepted, prometheus.CounterValue, "accepted")
	emit(c.packets, prometheus.CounterValue, "packets_in", "in")
	emit(c.packets, prometheus.CounterValue, "packets_out", "out")
	emit(c.bytes, prometheus.CounterValue, "bytes_in", "in")
	emit(c.bytes, prometheus.CounterValue, "bytes_out", "out")
	emit(c.queue, prometheus.GaugeValue, "handler_queue", "handler")
	emit(c.queue, prometheus.GaugeValue, "send_queue", "send")
	emit(c.dropped, prometheus.CounterValue, "dropped")
	emit(c.overloaded, prometheus.CounterValue, "overloaded")
	emit(c.badCRC, prometheus.CounterValue, "bad_crc")
	emit(c.workers, prometheus.GaugeValue, "workers")
	if kicks, ok := st["kicks"].(map[string]any); ok {
		reasons := make([]string, 0, len(kicks))
		for r := range kicks {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			if v, ok := number(kicks[r]); ok {
				ch <- prometheus.MustNewConstMetric(c.kicks, prometheus.CounterValue, v, r)
			}
		}
	}
	if h, ok := parseHistogram(st["handler_latency"]); ok {
		m, err := prometheus.NewConstHistogram(c.latency, h.count, h.sum, h.buckets)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.latency, err)
		}
		ch <- m
	}
}

// histogram is a parsed {"buckets","counts","sum_seconds","count"}.
type histogram struct {
	buckets map[float64]uint64 // upper bound -> cumulative count
	sum     float64
	count   uint64
}

// parseHistogram reads the handler latency histogram of the stats. counts
// may have one entry more than buckets (the +Inf bucket, which count
// already gives).
func parseHistogram(v any) (histogram, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return histogram{}, false
	}
	bounds, ok1 := numbers(m["buckets"])
	counts, ok2 := numbers(m["counts"])
	sum, ok3 := number(m["sum_seconds"])
	count, ok4 := number(m["count"])
	if !ok1 || !ok2 || !ok3 || !ok4 || (len(counts) != len(bounds) && len(counts) != len(bounds)+1) {
		return histogram{}, false
	}
	h := histogram{buckets: make(map[float64]uint64, len(bounds)), sum: sum, count: uint64(count)}
	for i, b := range bounds {
		h.buckets[b] = uint64(counts[i])
	}
	return h, true
}
