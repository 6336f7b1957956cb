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

// Stats is a snapshot of the server's counters.
type Stats struct {
	Requests uint64         // responses sent
	ByStatus map[int]uint64 // responses by status code
	Active   int64          // requests being served
	Rejected uint64         // malformed requests (answered 4xx/5xx and closed)
	Timeouts uint64         // connections closed by a timeout
	Panics   uint64         // recovered handler panics
	Hijacked uint64         // connections taken over by handlers
	// SendFiles counts response bodies sent from files with AsyncSendFile.
	SendFiles uint64
	// ShortBodies counts responses whose handler wrote less than the
	// Content-Length it declared; each one closed its connection.
	ShortBodies uint64
	// RefusedConns counts connections refused by MaxConns (the engine's
	// Stats.Rejected); RefusedPerIP those refused by MaxConnsPerIP.
	RefusedConns, RefusedPerIP uint64
	Engine                     engine.Stats // the engine's counters
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
