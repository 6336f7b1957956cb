package web

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"wharf/engine"
	"wharf/server"
)

// This file is the one place that maps Stats to Prometheus metrics: each
// family below names a metric, says what it means and reads its samples
// from the struct. Every number in Stats has a metric
// (TestEveryStatHasAMetric fails otherwise): a new counter is a field in
// its struct, a line in that struct's Add, and an entry here.

// family is one metric family read from a T.
type family[T any] struct {
	name, help string
	typ        prometheus.ValueType
	labels     []string // variable labels, in the order read passes their values
	// read emits the family's samples from s; emit's labels are the values
	// of the variable labels.
	read func(s *T, emit func(v float64, labels ...string))
	// hist, instead of read, makes the family a histogram.
	hist func(s *T) server.HistogramSnapshot
	// present, if set, says whether s has the family's section (only).
	present func(s *T) bool
}

func gauge[T any](name, help string, v func(*T) float64) family[T] {
	return family[T]{name: name, help: help, typ: prometheus.GaugeValue,
		read: func(s *T, emit func(float64, ...string)) { emit(v(s)) }}
}

func counter[T any](name, help string, v func(*T) float64) family[T] {
	f := gauge(name, help, v)
	f.typ = prometheus.CounterValue
	return f
}

// labelled is a family with variable labels.
func labelled[T any](typ prometheus.ValueType, name, help string, labels []string, read func(s *T, emit func(float64, ...string))) family[T] {
	return family[T]{name: name, help: help, typ: typ, labels: labels, read: read}
}

func f64[N ~int | ~int64 | ~uint64](n N) float64 { return float64(n) }

var (
	gaugeValue   = prometheus.GaugeValue
	counterValue = prometheus.CounterValue
)

// statFamilies are the metrics of Stats.
var statFamilies = slices.Concat([]family[Stats]{
	gauge("wharf_workers", "Worker processes reporting.", func(s *Stats) float64 { return f64(s.Workers) }),
}, serverFamilies, perEngine(engineFamilies), httpFamilies, chatFamilies, channelFamilies, pushFamilies, tlsFamilies, clusterFamilies)

// serverFamilies are the packet server's (Stats.Server).
var serverFamilies = []family[Stats]{
	gauge("wharf_connections", "Open connections, all transports.", func(s *Stats) float64 { return f64(s.Server.Online) }),
	gauge("wharf_connections_max", "The connection limit (max_connections), summed over workers.", func(s *Stats) float64 { return f64(s.Server.MaxConnections) }),
	counter("wharf_connections_accepted_total", "Connections accepted, all transports.", func(s *Stats) float64 { return f64(s.Server.Accepted) }),
	gauge("wharf_connection_slots", "Connection slots in the engines' loop tables, all transports.", func(s *Stats) float64 { return f64(s.Server.Slots) }),
	gauge("wharf_connection_slots_free", "Connection slots free for reuse, all transports.", func(s *Stats) float64 { return f64(s.Server.FreeSlots) }),
	gauge("wharf_timers", "Active timers (idle deadlines, ticks), all transports.", func(s *Stats) float64 { return f64(s.Server.Timers) }),
	labelled(gaugeValue, "wharf_queue_depth", "Requests waiting for a handler (handler) and packets waiting to be written (send).", []string{"queue"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.Server.HandlerQueue), "handler")
			emit(f64(s.Server.SendQueue), "send")
		}),
	gauge("wharf_handlers_busy", "Requests being handled.", func(s *Stats) float64 { return f64(s.Server.HandlerBusy) }),
	labelled(counterValue, "wharf_packets_total", "Packets received (in) and sent (out).", []string{"direction"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.Server.PacketsIn), "in")
			emit(f64(s.Server.PacketsOut), "out")
		}),
	labelled(counterValue, "wharf_bytes_total", "Bytes received (in) and sent (out), all transports.", []string{"direction"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.Server.BytesIn), "in")
			emit(f64(s.Server.BytesOut), "out")
		}),
	counter("wharf_bad_checksums_total", "Packets dropped for a checksum mismatch.", func(s *Stats) float64 { return f64(s.Server.BadPackets) }),
	counter("wharf_requests_overloaded_total", "Requests refused because the handler queue was full.", func(s *Stats) float64 { return f64(s.Server.Overloaded) }),
	counter("wharf_packets_dropped_total", "Outbound packets dropped because the send queues were full.", func(s *Stats) float64 { return f64(s.Server.Dropped) }),
	counter("wharf_requests_unknown_total", "Requests with a code no handler is registered for.", func(s *Stats) float64 { return f64(s.Server.Unknown) }),
	counter("wharf_handler_panics_total", "Handler panics recovered.", func(s *Stats) float64 { return f64(s.Server.Panics) }),
	labelled(counterValue, "wharf_kicks_total", "Connections closed by the server, by reason.", []string{"reason"},
		func(s *Stats, emit func(float64, ...string)) {
			for k, n := range s.Server.Kicks {
				emit(f64(n), server.Kick(k).String())
			}
		}),
	counter("wharf_kick_logs_suppressed_total", "Kick log lines left out by the rate limit.", func(s *Stats) float64 { return f64(s.Server.KickLogsDropped) }),
	{name: "wharf_handler_latency_seconds", help: "Time from a request's arrival to its handler's return.",
		hist: func(s *Stats) server.HistogramSnapshot { return s.Server.HandlerLatency }},
}

// engineFamilies are an engine's metrics (engine.Stats); perEngine makes
// them families of Stats labelled by transport.
var engineFamilies = []family[engine.Stats]{
	labelled(gaugeValue, "loops", "Event loops (1 for a goroutine-per-connection backend), by engine kind.", []string{"kind"},
		func(s *engine.Stats, emit func(float64, ...string)) { emit(f64(s.Loops), s.Kind.String()) }),
	gauge("connections", "Open connections.", func(s *engine.Stats) float64 { return f64(s.Open) }),
	counter("accepted_total", "Inbound connections accepted (not counting rejected ones).", func(s *engine.Stats) float64 { return f64(s.Accepted) }),
	counter("dialed_total", "Outbound connections established.", func(s *engine.Stats) float64 { return f64(s.Dialed) }),
	counter("rejected_total", "Connections closed at once by the connection limit.", func(s *engine.Stats) float64 { return f64(s.Rejected) }),
	labelled(counterValue, "closed_total", "Connections closed, by reason.", []string{"reason"},
		func(s *engine.Stats, emit func(float64, ...string)) {
			for r, n := range s.ClosedBy {
				emit(f64(n), engine.CloseReason(r).String())
			}
		}),
	counter("read_bytes_total", "Bytes read from sockets.", func(s *engine.Stats) float64 { return f64(s.BytesRead) }),
	counter("written_bytes_total", "Bytes written to sockets.", func(s *engine.Stats) float64 { return f64(s.BytesWritten) }),
	counter("reads_total", "Reads that returned data.", func(s *engine.Stats) float64 { return f64(s.Reads) }),
	counter("writes_total", "Writes that wrote data.", func(s *engine.Stats) float64 { return f64(s.Writes) }),
	counter("writes_blocked_total", "Writes that found the socket full and waited for it.", func(s *engine.Stats) float64 { return f64(s.WriteBlocked) }),
	counter("wakeups_total", "Event loop wake-ups by other goroutines.", func(s *engine.Stats) float64 { return f64(s.Wakeups) }),
	counter("tasks_total", "Tasks from other goroutines run by event loops.", func(s *engine.Stats) float64 { return f64(s.Tasks) }),
	gauge("pending_writes", "Asynchronous writes not yet written.", func(s *engine.Stats) float64 { return f64(s.PendingWrites) }),
	counter("writes_refused_total", "Asynchronous writes refused by the pending-write limit.", func(s *engine.Stats) float64 { return f64(s.Overloaded) }),
	counter("panics_total", "Connection handler panics recovered.", func(s *engine.Stats) float64 { return f64(s.Panics) }),
	counter("polls_total", "Polls that returned events.", func(s *engine.Stats) float64 { return f64(s.Polls) }),
	counter("loop_busy_seconds_total", "Time event loops spent handling events and tasks.", func(s *engine.Stats) float64 { return s.LoopBusy.Seconds() }),
	gauge("slots", "Connection slots allocated in loop tables.", func(s *engine.Stats) float64 { return f64(s.Slots) }),
	gauge("free_slots", "Connection slots free for reuse.", func(s *engine.Stats) float64 { return f64(s.FreeSlots) }),
	gauge("timers", "Active timers in the loops' wheels.", func(s *engine.Stats) float64 { return f64(s.Timers) }),
}

// engineOf is one engine of a Stats and the transport label it gets.
type engineOf struct {
	transport string
	stats     *engine.Stats
}

// engines lists the engines of s: the packet server's transports by name,
// then the HTTP server's as transport "http". A new transport is one more
// entry of server.Stats.Transports, and so one more label value here.
func engines(s *Stats) []engineOf {
	names := make([]string, 0, len(s.Server.Transports))
	for name := range s.Server.Transports {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]engineOf, 0, len(names)+1)
	for _, name := range names {
		es := s.Server.Transports[name]
		out = append(out, engineOf{name, &es})
	}
	if s.HTTP != nil {
		out = append(out, engineOf{"http", &s.HTTP.Engine})
	}
	return out
}

// perEngine makes engine families into wharf_engine_* families of Stats,
// with a sample set per engine labelled transport="tcp", "kcp", "http"...
func perEngine(fs []family[engine.Stats]) []family[Stats] {
	out := make([]family[Stats], len(fs))
	for i, f := range fs {
		out[i] = family[Stats]{
			name: "wharf_engine_" + f.name, help: f.help + " Per engine: transport is the packet server's transport, or http.",
			typ: f.typ, labels: append([]string{"transport"}, f.labels...),
			read: func(s *Stats, emit func(float64, ...string)) {
				for _, e := range engines(s) {
					f.read(e.stats, func(v float64, labels ...string) {
						emit(v, append([]string{e.transport}, labels...)...)
					})
				}
			},
		}
	}
	return out
}

// httpFamilies are the HTTP server's (Stats.HTTP, when present); its
// engine is in the wharf_engine_* families as transport "http".
var httpFamilies = only(func(s *Stats) bool { return s.HTTP != nil }, []family[Stats]{
	counter("wharf_httpd_requests_total", "HTTP responses sent by the HTTP server.", func(s *Stats) float64 { return f64(s.HTTP.Requests) }),
	labelled(counterValue, "wharf_httpd_responses_total", "HTTP responses sent by the HTTP server, by status code.", []string{"code"},
		func(s *Stats, emit func(float64, ...string)) {
			for code, n := range s.HTTP.ByStatus {
				emit(f64(n), strconv.Itoa(code))
			}
		}),
	gauge("wharf_httpd_active_requests", "HTTP requests being served.", func(s *Stats) float64 { return f64(s.HTTP.Active) }),
	counter("wharf_httpd_rejected_total", "Malformed HTTP requests (answered with an error and closed).", func(s *Stats) float64 { return f64(s.HTTP.Rejected) }),
	counter("wharf_httpd_timeouts_total", "HTTP connections closed by a read, idle or write timeout.", func(s *Stats) float64 { return f64(s.HTTP.Timeouts) }),
	counter("wharf_httpd_panics_total", "HTTP handler panics recovered.", func(s *Stats) float64 { return f64(s.HTTP.Panics) }),
	counter("wharf_httpd_hijacked_total", "HTTP connections taken over by handlers.", func(s *Stats) float64 { return f64(s.HTTP.Hijacked) }),
	counter("wharf_httpd_sendfiles_total", "HTTP response bodies sent from files with sendfile.", func(s *Stats) float64 { return f64(s.HTTP.SendFiles) }),
	counter("wharf_httpd_short_bodies_total", "HTTP responses shorter than their Content-Length (each closed its connection).", func(s *Stats) float64 { return f64(s.HTTP.ShortBodies) }),
	labelled(counterValue, "wharf_httpd_refused_connections_total", "HTTP connections refused, by limit: max_conns or max_conns_per_ip.", []string{"limit"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.HTTP.RefusedConns), "max_conns")
			emit(f64(s.HTTP.RefusedPerIP), "max_conns_per_ip")
		}),
})

// chatFamilies are the chat application's refusals (Stats.Chat, when
// present).
var chatFamilies = only(func(s *Stats) bool { return s.Chat != nil }, []family[Stats]{
	labelled(counterValue, "wharf_chat_refused_total", "Chat requests refused by a rate limit, by limit.", []string{"limit"},
		func(s *Stats, emit func(float64, ...string)) {
			c := s.Chat
			emit(f64(c.RefusedRegister), "register_ip")
			emit(f64(c.RefusedLoginIP), "login_ip")
			emit(f64(c.RefusedLoginUser), "login_user")
			emit(f64(c.RefusedSayUser), "say_user")
			emit(f64(c.RefusedSayIP), "say_ip")
			emit(f64(c.RefusedFanout), "fanout")
			emit(f64(c.RefusedPubUser), "publish_user")
			emit(f64(c.RefusedPubIP), "publish_ip")
		}),
	counter("wharf_chat_hash_busy_total", "Logins and registrations refused: no password-hash slot in time.", func(s *Stats) float64 { return f64(s.Chat.HashBusy) }),
	counter("wharf_chat_packet_sessions_ended_total", "Packet logins ended by a logout or an expiry.", func(s *Stats) float64 { return f64(s.Chat.SessionsEnded) }),
	labelled(counterValue, "wharf_chat_token_logins_total", "Packet logins with a token, by kind: session (an accounts session token) or jwt; refused: an invalid or expired token.", []string{"kind"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.Chat.TokenLogins), "session")
			emit(f64(s.Chat.JWTLogins), "jwt")
			emit(f64(s.Chat.RefusedTokens), "refused")
		}),
})

// channelFamilies are the channels Hub's (Stats.Channels, when present).
var channelFamilies = only(func(s *Stats) bool { return s.Channels != nil }, []family[Stats]{
	gauge("wharf_channels", "Channels with at least one subscriber (per worker, summed).", func(s *Stats) float64 { return f64(s.Channels.Channels) }),
	gauge("wharf_channels_clients", "Connections in the channels hub (logged in, or subscribed).", func(s *Stats) float64 { return f64(s.Channels.Clients) }),
	gauge("wharf_channels_users", "Distinct users among the connections in the channels hub.", func(s *Stats) float64 { return f64(s.Channels.Users) }),
	gauge("wharf_channels_subscriptions", "Subscriptions (connection, channel).", func(s *Stats) float64 { return f64(s.Channels.Subscriptions) }),
	gauge("wharf_channels_members", "Presence entries (channel, user).", func(s *Stats) float64 { return f64(s.Channels.Members) }),
	labelled(counterValue, "wharf_channels_messages_total", "Messages by kind: publications and direct messages made here, received from other workers or nodes, join and leave events.", []string{"kind"},
		func(s *Stats, emit func(float64, ...string)) {
			c := s.Channels
			emit(f64(c.Publications), "publication")
			emit(f64(c.Directs), "direct")
			emit(f64(c.Received), "received")
			emit(f64(c.Joins), "join")
			emit(f64(c.Leaves), "leave")
		}),
	counter("wharf_channels_deliveries_total", "Messages (or recovery batches) handed to connections.", func(s *Stats) float64 { return f64(s.Channels.Deliveries) }),
	labelled(counterValue, "wharf_channels_drops_total", "Messages connections refused, by reason: overloaded (a full send queue), closed, failed.", []string{"reason"},
		func(s *Stats, emit func(float64, ...string)) {
			d := s.Channels.Drops
			emit(f64(d.Overloaded), "overloaded")
			emit(f64(d.Closed), "closed")
			emit(f64(d.Failed), "failed")
		}),
	labelled(counterValue, "wharf_channels_recoveries_total", "Subscriptions that asked to recover, by outcome: recovered, or resync (told to reload).", []string{"outcome"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.Channels.Recovered), "recovered")
			emit(f64(s.Channels.Resyncs), "resync")
		}),
	counter("wharf_channels_denied_total", "Channel operations refused by the namespaces' rules.", func(s *Stats) float64 { return f64(s.Channels.Denied) }),
	labelled(counterValue, "wharf_channels_errors_total", "Failures, by part: broker (delivery stayed on this node), history (the history store), encode.", []string{"part"},
		func(s *Stats, emit func(float64, ...string)) {
			c := s.Channels
			emit(f64(c.BrokerErrors), "broker")
			emit(f64(c.HistoryErrors), "history")
			emit(f64(c.EncodeErrors), "encode")
		}),
})

// pushFamilies are the push API's (Stats.Push, when present).
var pushFamilies = only(func(s *Stats) bool { return s.Push != nil }, []family[Stats]{
	counter("wharf_push_requests_total", "Push API requests answered.", func(s *Stats) float64 { return f64(s.Push.Requests) }),
	counter("wharf_push_publications_total", "Publications and direct messages made through the push API.", func(s *Stats) float64 { return f64(s.Push.Publications) }),
	counter("wharf_push_deliveries_total", "Connections of this worker the push API's messages reached.", func(s *Stats) float64 { return f64(s.Push.Deliveries) }),
	labelled(counterValue, "wharf_push_refused_total", "Push API requests refused, by reason: unauthorized (401), too_large (413), rate_limited (429), failed (other).", []string{"reason"},
		func(s *Stats, emit func(float64, ...string)) {
			p := s.Push
			emit(f64(p.Unauthorized), "unauthorized")
			emit(f64(p.TooLarge), "too_large")
			emit(f64(p.RateLimited), "rate_limited")
			emit(f64(p.Failed), "failed")
		}),
})

// tlsFamilies are the TLS listeners' handshakes (Stats.TLS, when present);
// their engines are in the wharf_engine_* families (transport "tls" for
// the packet listeners, "http" for HTTPS).
var tlsFamilies = only(func(s *Stats) bool { return s.TLS != nil }, []family[Stats]{
	counter("wharf_tls_handshakes_total", "TLS handshakes completed.", func(s *Stats) float64 { return f64(s.TLS.Handshakes) }),
	labelled(counterValue, "wharf_tls_version_handshakes_total", "TLS handshakes completed, by version.", []string{"version"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.TLS.TLS12), "1.2")
			emit(f64(s.TLS.TLS13), "1.3")
		}),
	counter("wharf_tls_resumed_total", "TLS handshakes that resumed a session.", func(s *Stats) float64 { return f64(s.TLS.Resumed) }),
	gauge("wharf_tls_handshaking", "TLS handshakes in progress (each holds a goroutine).", func(s *Stats) float64 { return f64(s.TLS.Handshaking) }),
	labelled(counterValue, "wharf_tls_handshake_failures_total", "TLS handshakes that failed, by reason.", []string{"reason"},
		func(s *Stats, emit func(float64, ...string)) {
			s.TLS.Failed.Each(func(reason string, n uint64) { emit(f64(n), reason) })
		}),
})

// clusterFamilies are the node's link to the cluster (Stats.Cluster, when
// present): per node, since every node serves its own /metrics.
var clusterFamilies = only(func(s *Stats) bool { return s.Cluster != nil }, []family[Stats]{
	gauge("wharf_cluster_connected", "Processes of this node connected to the NATS server (1 for a single process).", func(s *Stats) float64 { return f64(s.Cluster.Connected) }),
	gauge("wharf_cluster_nodes", "Nodes alive, as this node sees them (itself included; with worker processes, each is a node).", func(s *Stats) float64 { return f64(s.Cluster.Nodes) }),
	labelled(counterValue, "wharf_cluster_messages_total", "Channel messages through the broker: published (sent to the other nodes) and received (from them).", []string{"direction"},
		func(s *Stats, emit func(float64, ...string)) {
			emit(f64(s.Cluster.Published), "published")
			emit(f64(s.Cluster.Received), "received")
		}),
	counter("wharf_cluster_refused_total", "Messages not sent to the other nodes (broker away, or send queue full): delivered on this node only.", func(s *Stats) float64 { return f64(s.Cluster.Refused) }),
	counter("wharf_cluster_dropped_total", "Messages from other nodes dropped here by a slow consumer.", func(s *Stats) float64 { return f64(s.Cluster.Dropped) }),
	counter("wharf_cluster_malformed_total", "Messages from the broker that did not decode.", func(s *Stats) float64 { return f64(s.Cluster.Malformed) }),
	counter("wharf_cluster_reconnects_total", "Connections to the NATS server made again after a loss.", func(s *Stats) float64 { return f64(s.Cluster.Reconnects) }),
	counter("wharf_cluster_disconnects_total", "Connections to the NATS server lost.", func(s *Stats) float64 { return f64(s.Cluster.Disconnects) }),
	counter("wharf_cluster_nodes_lost_total", "Other nodes dropped for silence (dead_after without a heartbeat).", func(s *Stats) float64 { return f64(s.Cluster.NodesLost) }),
	counter("wharf_cluster_presence_syncs_total", "Presence snapshots asked of other nodes.", func(s *Stats) float64 { return f64(s.Cluster.Syncs) }),
	{name: "wharf_cluster_lag_seconds", help: "Time from a message's publication on another node to its receipt here.",
		hist: func(s *Stats) server.HistogramSnapshot { return s.Cluster.Lag }},
	labelled(gaugeValue, "wharf_cluster_node_connections", "Open connections of each node this node sees, as it announced them (-1: not reported).", []string{"node", "incarnation"},
		func(s *Stats, emit func(float64, ...string)) {
			for _, n := range s.Cluster.NodeList {
				emit(f64(n.Connections), n.Name, n.Incarnation)
			}
		}),
	labelled(gaugeValue, "wharf_cluster_node_presence", "Presence entries (channel, user) of each node this node sees.", []string{"node", "incarnation"},
		func(s *Stats, emit func(float64, ...string)) {
			for _, n := range s.Cluster.NodeList {
				emit(f64(n.Presence), n.Name, n.Incarnation)
			}
		}),
})

// only makes families emit nothing while present(s) is false: the
// sections of Stats that may be nil.
func only(present func(*Stats) bool, fs []family[Stats]) []family[Stats] {
	for i := range fs {
		fs[i].present = present
		read := fs[i].read
		if read == nil {
			continue // a histogram: collectStats asks present
		}
		fs[i].read = func(s *Stats, emit func(float64, ...string)) {
			if present(s) {
				read(s, emit)
			}
		}
	}
	return fs
}

// statsCollector exposes Config.Stats as the metrics of statFamilies,
// calling it at each scrape, so the numbers are as fresh as the scrape.
type statsCollector struct {
	stats func(context.Context) (Stats, error) // Config.Stats
	descs []*prometheus.Desc                   // descs[i] describes statFamilies[i]; read-only
}

func newStatsCollector(stats func(context.Context) (Stats, error)) *statsCollector {
	c := &statsCollector{stats: stats, descs: make([]*prometheus.Desc, len(statFamilies))}
	for i, f := range statFamilies {
		c.descs[i] = prometheus.NewDesc(f.name, f.help, f.labels, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. If Stats fails, the scrape
// reports the error and none of these metrics.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[0], fmt.Errorf("web: stats: %w", err))
		return
	}
	collectStats(&st, c.descs, ch)
}

// collectStats sends the metrics of st; descs are statFamilies' descriptors.
func collectStats(st *Stats, descs []*prometheus.Desc, ch chan<- prometheus.Metric) {
	for i, f := range statFamilies {
		d := descs[i]
		if f.present != nil && !f.present(st) {
			continue
		}
		if f.hist != nil {
			ch <- constHistogram(d, f.hist(st))
			continue
		}
		f.read(st, func(v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, f.typ, v, labels...)
		})
	}
}

// constHistogram makes a Prometheus histogram of a snapshot (whose last
// count, +Inf, Prometheus takes from the total).
func constHistogram(d *prometheus.Desc, h server.HistogramSnapshot) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			buckets[b] = h.Counts[i]
		}
	}
	m, err := prometheus.NewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
