package httpd

import (
	"sync/atomic"

	"wharf/engine"
)

type counters struct {
	byCode    [600]atomic.Uint64 // responses by status code (100..599)
	rejected  atomic.Uint64      // malformed requests answered with an error and closed
	timeouts  atomic.Uint64      // connections closed by a read/idle/write timeout
	panics    atomic.Uint64
	hijacked  atomic.Uint64
	sendfiles atomic.Uint64
	short     atomic.Uint64 // responses shorter than their Content-Length (connection closed)
	perIP     atomic.Uint64 // connections refused by MaxConnsPerIP
}

func (c *counters) count(status int) {
	if status >= 100 && status < 600 {
		c.byCode[status].Add(1)
	}
}

// Stats is a snapshot of the server's counters. The JSON names are the
// tags below (ByStatus is an object keyed by the code: {"200":5}); Add sums
// the snapshots of several servers.
type Stats struct {
	Requests uint64         `json:"requests"`  // responses sent
	ByStatus map[int]uint64 `json:"by_status"` // responses by status code
	Active   int64          `json:"active"`    // requests being served
	Rejected uint64         `json:"rejected"`  // malformed requests (answered 4xx/5xx and closed)
	Timeouts uint64         `json:"timeouts"`  // connections closed by a timeout
	Panics   uint64         `json:"panics"`    // recovered handler panics
	Hijacked uint64         `json:"hijacked"`  // connections taken over by handlers
	// SendFiles counts response bodies sent from files with AsyncSendFile.
	SendFiles uint64 `json:"sendfiles"`
	// ShortBodies counts responses whose handler wrote less than the
	// Content-Length it declared; each one closed its connection.
	ShortBodies uint64 `json:"short_bodies"`
	// RefusedConns counts connections refused by MaxConns (the engine's
	// Stats.Rejected); RefusedPerIP those refused by MaxConnsPerIP.
	RefusedConns uint64       `json:"refused_conns"`
	RefusedPerIP uint64       `json:"refused_per_ip"`
	Engine       engine.Stats `json:"engine"` // the engine's counters
}

// Add adds o, another server's snapshot, into s: counters and gauges are
// summed, ByStatus code by code, Engine with engine.Stats.Add.
func (s *Stats) Add(o Stats) {
	s.Requests += o.Requests
	if len(o.ByStatus) > 0 && s.ByStatus == nil {
		s.ByStatus = make(map[int]uint64, len(o.ByStatus))
	}
	for code, n := range o.ByStatus {
		s.ByStatus[code] += n
	}
	s.Active += o.Active
	s.Rejected += o.Rejected
	s.Timeouts += o.Timeouts
	s.Panics += o.Panics
	s.Hijacked += o.Hijacked
	s.SendFiles += o.SendFiles
	s.ShortBodies += o.ShortBodies
	s.RefusedConns += o.RefusedConns
	s.RefusedPerIP += o.RefusedPerIP
	s.Engine.Add(o.Engine)
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	st := Stats{ByStatus: map[int]uint64{}, Active: s.active.Load(),
		Rejected: s.ctr.rejected.Load(), Timeouts: s.ctr.timeouts.Load(),
		Panics: s.ctr.panics.Load(), Hijacked: s.ctr.hijacked.Load(), SendFiles: s.ctr.sendfiles.Load(),
		ShortBodies: s.ctr.short.Load(),
		Engine:      s.eng.Stats()}
	st.RefusedConns, st.RefusedPerIP = st.Engine.Rejected, s.ctr.perIP.Load()
	for code := range s.ctr.byCode {
		if n := s.ctr.byCode[code].Load(); n > 0 {
			st.ByStatus[code] = n
			st.Requests += n
		}
	}
	return st
}
