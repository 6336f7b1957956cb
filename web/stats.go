package web

import (
	"wharf/chat"
	"wharf/httpd"
	"wharf/server"
	"wharf/tlsconn"
)

// Stats is what the web app shows of the servers behind it: the dashboard,
// /api/stats and the live view (as JSON, with the names of the tags below
// and of the types they hold), and /metrics (statMetrics maps every field
// to a metric). Config.Stats returns it; a program running several servers
// (wharfd's worker processes) sums their Stats with Add.
type Stats struct {
	// Workers is the number of server processes summed up: 1 for one.
	Workers int `json:"workers"`
	// Server is the packet server: totals, and the engine of each
	// transport in Server.Transports ("tcp", "kcp", ...).
	Server server.Stats `json:"server"`
	// HTTP is the HTTP server running the web app, when it is an
	// httpd.Server; nil otherwise.
	HTTP *httpd.Stats `json:"http,omitempty"`
	// Chat is the chat application's refusal counters (rate limits, busy
	// password hashing), when the caller reports them; nil otherwise.
	Chat *chat.Stats `json:"chat,omitempty"`
	// TLS is the handshake counters of every TLS listener (packet and
	// HTTPS), when there are any; nil otherwise.
	TLS *tlsconn.Stats `json:"tls,omitempty"`
}

// Add adds o, the Stats of other servers, into s: every number is summed
// (see server.Stats.Add, httpd.Stats.Add, chat.Stats.Add and
// tlsconn.Stats.Add); HTTP, Chat and TLS are in the sum if they are in
// either. Like a map, s's sections are
// updated in place: add into a Stats of your own (a zero one), not into a
// copy of another's.
func (s *Stats) Add(o Stats) {
	s.Workers += o.Workers
	s.Server.Add(o.Server)
	if o.HTTP != nil {
		if s.HTTP == nil {
			s.HTTP = &httpd.Stats{}
		}
		s.HTTP.Add(*o.HTTP)
	}
	if o.Chat != nil {
		if s.Chat == nil {
			s.Chat = &chat.Stats{}
		}
		s.Chat.Add(*o.Chat)
	}
	if o.TLS != nil {
		if s.TLS == nil {
			s.TLS = &tlsconn.Stats{}
		}
		s.TLS.Add(*o.TLS)
	}
}

// ServerStats returns the Stats of one packet server: Workers 1, no HTTP
// or Chat section.
func ServerStats(st server.Stats) Stats {
	return Stats{Workers: 1, Server: st}
}
