package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wharf/engine"
)

// Kick is why the server threw a client out.
type Kick uint8

// Kick reasons (SPEC §3).
const (
	KickIdle       Kick = iota // no packet for idle_timeout
	KickFlood                  // flood guard
	KickSlowReader             // unsent backlog over max_pending_per_conn (or the byte cap)
	KickFraming                // packet length out of range
	KickBadCRC                 // max_bad_packets checksum mismatches
	KickLimit                  // max_connections reached: closed at accept
	NumKicks
)

var kickNames = [NumKicks]string{"idle", "flood", "slow_reader", "framing", "bad_crc", "limit"}

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
// and /metrics.
type Stats struct {
	Online          int64 // open connections, all transports
	MaxConnections  int
	Accepted        uint64 // connections accepted, all transports
	Slots           int64  // connection slots in the engine's loop tables
	FreeSlots       int64
	Timers          int64 // active timers (idle deadlines, ticks)
	HandlerQueue    int64 // requests waiting for a worker
	HandlerBusy     int64 // requests being handled
	SendQueue       int64 // packets queued but not yet written
	PacketsIn       uint64
	PacketsOut      uint64
	BytesIn         uint64
	BytesOut        uint64
	BadPackets      uint64 // checksum mismatches
	Overloaded      uint64 // requests refused: handler queue full
	Dropped         uint64 // outbound packets dropped: max_pending_total
	Unknown         uint64 // requests with unknown codes
	Panics          uint64
	Kicks           [NumKicks]uint64
	KickLogsDropped uint64 // kick log lines suppressed by the rate limit
	HandlerLatency  HistogramSnapshot
	Transports      map[string]engine.Stats // per transport: "tcp", "kcp"
}

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
// them): Counts[i] observations <= HistogramBuckets[i], the last entry all.
type HistogramSnapshot struct {
	Counts []uint64
	Sum    time.Duration
	Count  uint64
}

// Snapshot returns cumulative counts.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Counts: make([]uint64, len(h.counts))}
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
	if len(s.Counts) == 0 || s.Counts[len(s.Counts)-1] == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(s.Counts[len(s.Counts)-1])))
	for i, c := range s.Counts {
		if c >= rank {
			if i < len(HistogramBuckets) {
				return HistogramBuckets[i]
			}
			return math.Inf(1)
		}
	}
	return math.Inf(1)
}
