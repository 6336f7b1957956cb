package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/internal/countsjson"
)

// Kick is why the server threw a client out.
type Kick uint8

// Kick reasons (SPEC §3).
const (
	KickIdle        Kick = iota // no packet for idle_timeout
	KickFlood                   // flood guard
	KickSlowReader              // unsent backlog over max_pending_per_conn (or the byte cap)
	KickFraming                 // packet length out of range
	KickBadCRC                  // max_bad_packets checksum mismatches
	KickLimit                   // max_connections reached: closed at accept
	KickSourceLimit             // max_connections_per_ip reached: closed at open
	NumKicks
)

var kickNames = [NumKicks]string{"idle", "flood", "slow_reader", "framing", "bad_crc", "limit", "source_limit"}

func (k Kick) String() string {
	if k < NumKicks {
		return kickNames[k]
	}
	return fmt.Sprintf("Kick(%d)", uint8(k))
}

// KickOf classifies the error a connection closed with; ok is false for
// ordinary closes (the client left, the server shut down, an I/O error).
func KickOf(err error) (Kick, bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, ErrFlood), errors.Is(err, ErrTooManyPending):
		return KickFlood, true
	case errors.Is(err, ErrFraming):
		return KickFraming, true
	case errors.Is(err, ErrBadPackets):
		return KickBadCRC, true
	}
	switch engine.CloseReasonOf(err) {
	case engine.ReasonIdle, engine.ReasonDeadline:
		return KickIdle, true // the server's idle timeout is a per-packet deadline
	case engine.ReasonOutbound:
		return KickSlowReader, true
	case engine.ReasonInbound:
		return KickFraming, true
	}
	return 0, false
}

type counters struct {
	packetsIn, packetsOut atomic.Uint64
	badPackets            atomic.Uint64 // checksum mismatches (packets dropped)
	overloaded            atomic.Uint64 // requests answered "overloaded" (handler queue full)
	dropped               atomic.Uint64 // outbound packets dropped by max_pending_total
	unknown               atomic.Uint64 // requests with an unregistered code
	panics                atomic.Uint64 // recovered handler panics
	kicks                 [NumKicks]atomic.Uint64
}

// Stats is a snapshot of the server's state, for the stats line, /api/stats
// and /metrics. Counters only grow; the fields marked "now" are gauges.
// Online, Accepted, Slots, FreeSlots, Timers, SendQueue, BytesIn and
// BytesOut are totals over Transports, and Kicks[KickLimit] includes
// their Rejected. The JSON names are the tags below; Add sums the
// snapshots of several servers (wharfd's worker processes).
//
// A new counter is one field here, its line in Add, and its metric in
// package web (whose tests fail until it has one).
type Stats struct {
	Online          int64                   `json:"online"`            // open connections now, all transports
	MaxConnections  int                     `json:"max_connections"`   // Config.MaxConnections (summed: each server admits its own)
	Accepted        uint64                  `json:"accepted"`          // connections accepted, all transports
	Slots           int64                   `json:"slots"`             // connection slots in the engines' loop tables now
	FreeSlots       int64                   `json:"free_slots"`        // of which free now
	Timers          int64                   `json:"timers"`            // active timers now (idle deadlines, ticks)
	HandlerQueue    int64                   `json:"handler_queue"`     // requests waiting for a worker now
	HandlerBusy     int64                   `json:"handler_busy"`      // requests being handled now
	SendQueue       int64                   `json:"send_queue"`        // packets queued but not yet written now
	PacketsIn       uint64                  `json:"packets_in"`        // packets received
	PacketsOut      uint64                  `json:"packets_out"`       // packets sent
	BytesIn         uint64                  `json:"bytes_in"`          // bytes received, all transports
	BytesOut        uint64                  `json:"bytes_out"`         // bytes sent, all transports
	BadPackets      uint64                  `json:"bad_crc"`           // checksum mismatches
	Overloaded      uint64                  `json:"overloaded"`        // requests refused: handler queue full
	Dropped         uint64                  `json:"dropped"`           // outbound packets dropped: max_pending_total
	Unknown         uint64                  `json:"unknown"`           // requests with unknown codes
	Panics          uint64                  `json:"panics"`            // recovered handler panics
	Kicks           KickCounts              `json:"kicks"`             // connections closed by the server, by reason
	KickLogsDropped uint64                  `json:"kick_logs_dropped"` // kick log lines suppressed by the rate limit
	HandlerLatency  HistogramSnapshot       `json:"handler_latency"`   // from a request's arrival to its handler's return
	Transports      map[string]engine.Stats `json:"transports"`        // per transport: "tcp", "kcp" (Transport.Name)
}

// Add adds o, another server's snapshot, into s: counters and gauges are
// summed, Kicks reason by reason, Transports by name (engine.Stats.Add),
// and the latency histograms merged (HistogramSnapshot.Add).
func (s *Stats) Add(o Stats) {
	s.Online += o.Online
	s.MaxConnections += o.MaxConnections
	s.Accepted += o.Accepted
	s.Slots += o.Slots
	s.FreeSlots += o.FreeSlots
	s.Timers += o.Timers
	s.HandlerQueue += o.HandlerQueue
	s.HandlerBusy += o.HandlerBusy
	s.SendQueue += o.SendQueue
	s.PacketsIn += o.PacketsIn
	s.PacketsOut += o.PacketsOut
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.BadPackets += o.BadPackets
	s.Overloaded += o.Overloaded
	s.Dropped += o.Dropped
	s.Unknown += o.Unknown
	s.Panics += o.Panics
	s.Kicks.Add(o.Kicks)
	s.KickLogsDropped += o.KickLogsDropped
	s.HandlerLatency.Add(o.HandlerLatency)
	if len(o.Transports) > 0 && s.Transports == nil {
		s.Transports = make(map[string]engine.Stats, len(o.Transports))
	}
	for name, es := range o.Transports {
		sum := s.Transports[name]
		sum.Add(es)
		s.Transports[name] = sum
	}
}

// KickCounts counts kicks by Kick reason (the index). In JSON it is an
// object keyed by the reasons' names: {"idle":3,"flood":1,...}.
type KickCounts [NumKicks]uint64

// Add adds o into k, reason by reason.
func (k *KickCounts) Add(o KickCounts) {
	for i := range k {
		k[i] += o[i]
	}
}

// MarshalJSON writes the counts as an object keyed by reason name.
func (k KickCounts) MarshalJSON() ([]byte, error) { return countsjson.Marshal(k[:], kickName) }

// UnmarshalJSON reads the object MarshalJSON writes. Names it does not know
// (from a newer program) are ignored.
func (k *KickCounts) UnmarshalJSON(b []byte) error {
	if err := countsjson.Unmarshal(b, k[:], kickName); err != nil {
		return fmt.Errorf("server: kicks: %w", err)
	}
	return nil
}

func kickName(i int) string { return Kick(i).String() }

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	st := Stats{
		MaxConnections:  s.cfg.MaxConnections,
		HandlerQueue:    s.queued.Load(),
		HandlerBusy:     s.busy.Load(),
		PacketsIn:       s.ctr.packetsIn.Load(),
		PacketsOut:      s.ctr.packetsOut.Load(),
		BadPackets:      s.ctr.badPackets.Load(),
		Overloaded:      s.ctr.overloaded.Load(),
		Dropped:         s.ctr.dropped.Load(),
		Unknown:         s.ctr.unknown.Load(),
		Panics:          s.ctr.panics.Load(),
		KickLogsDropped: s.kicks.suppressed.Load(),
		HandlerLatency:  s.latency.Snapshot(),
		Transports:      map[string]engine.Stats{},
	}
	for i := range st.Kicks {
		st.Kicks[i] = s.ctr.kicks[i].Load()
	}
	add := func(name string, es engine.Stats) {
		st.Transports[name] = es
		st.Online += es.Open
		st.Accepted += es.Accepted
		st.Slots += es.Slots
		st.FreeSlots += es.FreeSlots
		st.Timers += es.Timers
		st.SendQueue += es.PendingWrites
		st.BytesIn += es.BytesRead
		st.BytesOut += es.BytesWritten
		st.Kicks[KickLimit] += es.Rejected
	}
	add("tcp", s.eng.Stats())
	for _, t := range s.transportList() {
		add(t.Name(), t.Stats())
	}
	return st
}

func (s *Server) statsLoop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.logStats()
		}
	}
}

// logStats writes one line like seed 002's printTDInfo.
func (s *Server) logStats() {
	st := s.Stats()
	var kicks strings.Builder
	for k := range NumKicks {
		if k > 0 {
			kicks.WriteByte(' ')
		}
		fmt.Fprintf(&kicks, "%s=%d", k, st.Kicks[k])
	}
	s.cfg.Logger.Info("stats",
		"online", fmt.Sprintf("%d/%d", st.Online, st.MaxConnections),
		"slots_free_total", fmt.Sprintf("%d/%d", st.FreeSlots, st.Slots),
		"timers", st.Timers,
		"handler_queue", st.HandlerQueue,
		"send_queue", st.SendQueue,
		"packets_in", st.PacketsIn,
		"packets_out", st.PacketsOut,
		"dropped", st.Dropped,
		"overloaded", st.Overloaded,
		"bad_crc", st.BadPackets,
		"kicks", kicks.String(),
	)
}

// kickLog logs kicks, at most rate lines per second; the rest are counted.
type kickLog struct {
	rate       int
	mu         sync.Mutex // guards second and n
	second     int64
	n          int
	suppressed atomic.Uint64
}

func (k *kickLog) init(rate int) { k.rate = rate }

func (k *kickLog) log(l *slog.Logger, kick Kick, ec engine.Conn, err error) {
	now := time.Now().Unix()
	k.mu.Lock()
	if now != k.second {
		k.second, k.n = now, 0
	}
	k.n++
	ok := k.n <= k.rate
	k.mu.Unlock()
	if !ok {
		k.suppressed.Add(1)
		return
	}
	l.Warn("kick", "reason", kick.String(), "conn", ec.ID(), "remote", ec.RemoteAddr().String(), "err", err)
}

// HistogramBuckets are the upper bounds (seconds) of the handler latency
// histogram, Prometheus-style.
var HistogramBuckets = histogramBounds[:]

// histogramBounds backs HistogramBuckets with a length known at compile
// time, so that a Histogram's counters are an array and its zero value is
// ready to use.
var histogramBounds = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts durations in HistogramBuckets. The zero value is an
// empty histogram. Safe for concurrent use.
type Histogram struct {
	counts [len(histogramBounds) + 1]atomic.Uint64 // per bucket, the last is +Inf
	sumNs  atomic.Int64
	total  atomic.Uint64
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(histogramBounds) && sec > histogramBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	h.total.Add(1)
}

// HistogramSnapshot holds cumulative bucket counts (as Prometheus wants
// them): Counts[i] observations <= Bounds[i], the last entry (one more than
// Bounds) all of them. Its JSON names are the tags below.
type HistogramSnapshot struct {
	Bounds []float64     `json:"bounds"` // bucket upper bounds in seconds, ascending (HistogramBuckets)
	Counts []uint64      `json:"counts"` // cumulative; len(Bounds)+1
	Sum    time.Duration `json:"sum_ns"` // total of the observations
	Count  uint64        `json:"count"`  // observations
}

// Add merges o into s. With the same bounds the counts are added bucket by
// bucket. With other bounds (snapshots of another program version) each of
// o's buckets is counted in the first of s's buckets whose bound is at
// least as high, so no observation is reported faster than it was. An
// empty s takes o's bounds.
func (s *HistogramSnapshot) Add(o HistogramSnapshot) {
	s.Sum += o.Sum
	s.Count += o.Count
	switch {
	case len(o.Counts) == 0 || len(o.Counts) != len(o.Bounds)+1:
		return // nothing to merge (or not a histogram)
	case len(s.Counts) == 0:
		s.Bounds = o.Bounds
		s.Counts = append([]uint64(nil), o.Counts...)
		return
	case slices.Equal(s.Bounds, o.Bounds):
		for i, c := range o.Counts {
			s.Counts[i] += c
		}
		return
	}
	var prev uint64
	for i, c := range o.Counts {
		if c <= prev {
			continue // no observations in bucket i (or counts that are not cumulative)
		}
		n := c - prev // o's observations in bucket i
		prev = c
		j := len(s.Bounds) // +Inf
		if i < len(o.Bounds) {
			j, _ = slices.BinarySearch(s.Bounds, o.Bounds[i])
		}
		for ; j < len(s.Counts); j++ {
			s.Counts[j] += n // cumulative: every bucket from j up
		}
	}
}

// Snapshot returns cumulative counts.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Bounds: HistogramBuckets, Counts: make([]uint64, len(h.counts))}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		s.Counts[i] = cum
	}
	s.Sum = time.Duration(h.sumNs.Load())
	s.Count = h.total.Load()
	return s
}

// Quantile estimates the q-quantile (0..1) from the buckets (upper bound of
// the bucket holding it); NaN without observations.
func (s HistogramSnapshot) Quantile(q float64) float64 {
	bounds := s.Bounds
	if bounds == nil {
		bounds = HistogramBuckets
	}
	if len(s.Counts) == 0 || s.Counts[len(s.Counts)-1] == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(s.Counts[len(s.Counts)-1])))
	for i, c := range s.Counts {
		if c >= rank {
			if i < len(bounds) {
				return bounds[i]
			}
			return math.Inf(1)
		}
	}
	return math.Inf(1)
}
