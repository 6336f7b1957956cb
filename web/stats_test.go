package web

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"wharf/channels"
	"wharf/chat"
	"wharf/cluster"
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
		Cluster: &ClusterStats{
			Stats:    cluster.Stats{Lag: server.HistogramSnapshot{Bounds: []float64{0.1}, Counts: []uint64{0, 0}}},
			NodeList: []cluster.NodeInfo{{Name: "a", Incarnation: "1"}},
		},
	}
}

func filledStats() Stats {
	s := someStats()
	statstest.Fill(&s)
	return s
}

// TestStatsAdd: Add sums every number of every section.
func TestStatsAdd(t *testing.T) {
	statstest.CheckAdd(t, filledStats, (*Stats).Add, "Bounds", "Kind", "Nodes", "NodeList")
	var s Stats
	s.Add(Stats{Workers: 1})
	if s.HTTP != nil || s.Chat != nil || s.Channels != nil || s.Push != nil || s.Cluster != nil {
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
		if l.Path == "Server.HandlerLatency.Counts[1]" || l.Path == "Cluster.Stats.Lag.Counts[1]" {
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

// TestClusterNodeListAdd: worker processes of one node see each other as
// peers and themselves as Self; the sum lists each node once, marked Self
// if it is one of this machine's, with its latest heartbeat.
func TestClusterNodeListAdd(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	w0 := ClusterStats{Stats: cluster.Stats{Nodes: 3, Published: 1}, NodeList: []cluster.NodeInfo{
		{Name: "web-0", Incarnation: "a", Self: true, LastSeen: t0.Add(2 * time.Second)},
		{Name: "web-1", Incarnation: "b", LastSeen: t0},
		{Name: "other-0", Incarnation: "c", LastSeen: t0, Connections: 5},
	}}
	w1 := ClusterStats{Stats: cluster.Stats{Nodes: 3, Published: 2}, NodeList: []cluster.NodeInfo{
		{Name: "web-1", Incarnation: "b", Self: true, LastSeen: t0.Add(2 * time.Second)},
		{Name: "web-0", Incarnation: "a", LastSeen: t0.Add(time.Second)},
		{Name: "other-0", Incarnation: "c", LastSeen: t0.Add(time.Second), Connections: 6},
	}}
	var sum ClusterStats
	sum.Add(w0)
	sum.Add(w1)
	var got []string
	for _, n := range sum.NodeList {
		got = append(got, fmt.Sprintf("%s self=%v conns=%d seen=%v", n.Name, n.Self, n.Connections, n.LastSeen.Sub(t0)))
	}
	want := []string{"other-0 self=false conns=6 seen=1s", "web-0 self=true conns=0 seen=2s", "web-1 self=true conns=0 seen=2s"}
	if !slices.Equal(got, want) || sum.Nodes != 3 || sum.Published != 3 {
		t.Fatalf("sum = %v (nodes %d, published %d), want %v", got, sum.Nodes, sum.Published, want)
	}
}
