package web

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"wharf/channels"
	"wharf/chat"
	"wharf/engine"
	"wharf/httpd"
	"wharf/internal/statstest"
	"wharf/server"
)

// someStats is a Stats with every section present, one transport, one
// status code and a one-bucket histogram, all zero.
func someStats() Stats {
	return Stats{
		Server: server.Stats{
			HandlerLatency: server.HistogramSnapshot{Bounds: []float64{0.1}, Counts: []uint64{0, 0}},
			Transports:     map[string]engine.Stats{"tcp": {}},
		},
		HTTP:     &httpd.Stats{ByStatus: map[int]uint64{200: 0}},
		Chat:     &chat.Stats{},
		Channels: &channels.Stats{},
		Push:     &PushStats{},
	}
}

func filledStats() Stats {
	s := someStats()
	statstest.Fill(&s)
	return s
}

// TestStatsAdd: Add sums every number of every section.
func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*Stats).Add, "Bounds", "Kind")
	var s Stats
	s.Add(Stats{Workers: 1})
	if s.HTTP != nil || s.Chat != nil || s.Channels != nil || s.Push != nil {
		t.Errorf("absent sections appeared in the sum: %+v", s)
	}
}

func TestStatsJSON(t *testing.T) { statstest.CheckJSON(t, filledStats) }

// exposition gathers the metrics of st through a pedantic registry (which
// also checks that they match the collector's descriptors) in the text
// format.
func exposition(t *testing.T, st Stats) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newStatsCollector(func(context.Context) (Stats, error) { return st, nil }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestEveryStatHasAMetric walks every number in Stats by reflection, sets
// it alone, and checks that /metrics changes: a field added to a stats
// struct without its entry in statFamilies fails here.
func TestEveryStatHasAMetric(t *testing.T) {
	base := someStats()
	want := exposition(t, base)
	leaves := statstest.Leaves(&base)
	if len(leaves) < 70 {
		t.Fatalf("only %d numbers in Stats: the walk is broken", len(leaves))
	}
	for i := range leaves {
		st := someStats()
		l := statstest.Leaves(&st)[i]
		if l.Path == "Server.HandlerLatency.Counts[1]" {
			continue // the +Inf bucket: Prometheus takes it from Count
		}
		l.Set(7)
		if exposition(t, st) == want {
			t.Errorf("%s has no metric: setting it changes nothing in /metrics", l.Path)
		}
	}
}

// TestEveryMetricIsEmitted: with every section present, every family has
// samples (no descriptor is left over from a removed field).
func TestEveryMetricIsEmitted(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newStatsCollector(func(context.Context) (Stats, error) { return filledStats(), nil }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.Metric) > 0
	}
	for _, f := range statFamilies {
		if !got[f.name] {
			t.Errorf("%s: no samples", f.name)
		}
	}
	// Without the optional sections, their families are left out.
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(newStatsCollector(func(context.Context) (Stats, error) { return Stats{Workers: 1}, nil }))
	mfs, _ = reg.Gather()
	for _, mf := range mfs {
		if name := mf.GetName(); strings.HasPrefix(name, "wharf_httpd_") || strings.HasPrefix(name, "wharf_chat_") ||
			strings.HasPrefix(name, "wharf_channels") || strings.HasPrefix(name, "wharf_push_") {
			t.Errorf("%s reported without its section", name)
		}
	}
}
