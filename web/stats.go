package web

import (
	"encoding/json"
	"math"

	"wharf/server"
)

// ServerStats returns the statistics of one packet server in the shape
// Config.Stats returns (see the package documentation), with "workers": 1.
// A caller running several servers (wharfd's workers) sums their maps
// and sets "workers" to their number. The map is the caller's.
func ServerStats(st server.Stats) map[string]any {
	kicks := make(map[string]any, server.NumKicks)
	for k := server.Kick(0); k < server.NumKicks; k++ {
		kicks[k.String()] = st.Kicks[k]
	}
	m := map[string]any{
		"online":          st.Online,
		"max_connections": st.MaxConnections,
		"accepted":        st.Accepted,
		"packets_in":      st.PacketsIn,
		"packets_out":     st.PacketsOut,
		"bytes_in":        st.BytesIn,
		"bytes_out":       st.BytesOut,
		"handler_queue":   st.HandlerQueue,
		"handler_busy":    st.HandlerBusy,
		"send_queue":      st.SendQueue,
		"dropped":         st.Dropped,
		"overloaded":      st.Overloaded,
		"bad_crc":         st.BadPackets,
		"unknown":         st.Unknown,
		"panics":          st.Panics,
		"kicks":           kicks,
		"workers":         1,
	}
	if kcp, ok := st.Transports["kcp"]; ok {
		m["kcp_online"] = kcp.Open
	}
	if h := st.HandlerLatency; len(h.Counts) >= len(server.HistogramBuckets) {
		m["handler_latency"] = map[string]any{
			"buckets":     append([]float64(nil), server.HistogramBuckets...),
			"counts":      append([]uint64(nil), h.Counts[:len(server.HistogramBuckets)]...),
			"sum_seconds": h.Sum.Seconds(),
			"count":       h.Count,
		}
	}
	return m
}

// number reads a statistic, whatever numeric type it came as: Go integers
// from a Stats func in this process, float64 or json.Number from JSON
// relayed by another. NaN and infinities are not numbers here.
func number(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case int8:
		f = float64(n)
	case int16:
		f = float64(n)
	case int32:
		f = float64(n)
	case int64:
		f = float64(n)
	case uint:
		f = float64(n)
	case uint8:
		f = float64(n)
	case uint16:
		f = float64(n)
	case uint32:
		f = float64(n)
	case uint64:
		f = float64(n)
	case float32:
		f = float64(n)
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// numbers reads a list of numbers; ok is false if any entry is not one.
func numbers(v any) ([]float64, bool) {
	var out []float64
	add := func(x any) bool {
		f, ok := number(x)
		out = append(out, f)
		return ok
	}
	switch l := v.(type) {
	case []any:
		for _, x := range l {
			if !add(x) {
				return nil, false
			}
		}
	case []float64:
		for _, x := range l {
			if !add(x) {
				return nil, false
			}
		}
	case []uint64:
		for _, x := range l {
			add(x)
		}
	case []int64:
		for _, x := range l {
			add(x)
		}
	case []int:
		for _, x := range l {
			add(x)
		}
	default:
		return nil, false
	}
	return out, true
}
