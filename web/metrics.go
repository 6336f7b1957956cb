package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	refused  prometheus.Counter     // wharf_http_streams_refused_total
	mine     []prometheus.Collector // registered by New, unregistered by Close
}

func newMetrics(reg *prometheus.Registry, stats func(context.Context) (Stats, error), logger *slog.Logger) (*metrics, error) {
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
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wharf_http_streams_refused_total",
		Help: "Live event streams refused by the anonymous or per-address stream limits.",
	})
	mine := []prometheus.Collector{m.requests, m.duration, m.streams, m.refused}
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
