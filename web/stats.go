package web

import (
	"cmp"
	"slices"
	"strings"

	"wharf/channels"
	"wharf/chat"
	"wharf/cluster"
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
	// Channels is the channels Hub's (chat.App.Hub): subscriptions,
	// presence, publications and deliveries, when the caller reports them;
	// nil otherwise.
	Channels *channels.Stats `json:"channels,omitempty"`
	// Push is the push API's counters, when it is served; nil otherwise.
	Push *PushStats `json:"push,omitempty"`
	// TLS is the handshake counters of every TLS listener (packet and
	// HTTPS), when there are any; nil otherwise.
	TLS *tlsconn.Stats `json:"tls,omitempty"`
	// Cluster is the node's link to the other nodes (package cluster),
	// when wharfd runs as one node of several; nil otherwise.
	Cluster *ClusterStats `json:"cluster,omitempty"`
}

// ClusterStats is the cluster section of Stats: the broker counters of
// this node (summed over its worker processes, each a node of its own)
// and the nodes it sees. Its JSON holds cluster.Stats's fields and
// node_list.
type ClusterStats struct {
	cluster.Stats
	// NodeList is the cluster's nodes as this node's workers see them:
	// the union of their lists, Self for this machine's workers, sorted
	// by name and start.
	NodeList []cluster.NodeInfo `json:"node_list"`
}

// Add adds o, another worker's section, into s: cluster.Stats.Add, and
// the union of the node lists (a node both list is kept once, with its
// latest heartbeat, and Self if either says so).
func (s *ClusterStats) Add(o ClusterStats) {
	s.Stats.Add(o.Stats)
	for _, n := range o.NodeList {
		i := slices.IndexFunc(s.NodeList, func(m cluster.NodeInfo) bool { return m.Name == n.Name && m.Incarnation == n.Incarnation })
		if i < 0 {
			s.NodeList = append(s.NodeList, n)
			continue
		}
		m := &s.NodeList[i]
		self := m.Self || n.Self
		if n.LastSeen.After(m.LastSeen) {
			*m = n
		}
		m.Self = self
	}
	slices.SortFunc(s.NodeList, func(a, b cluster.NodeInfo) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), a.Started.Compare(b.Started), strings.Compare(a.Incarnation, b.Incarnation))
	})
}

// Add adds o, the Stats of other servers, into s: every number is summed
// (see server.Stats.Add, httpd.Stats.Add, chat.Stats.Add,
// channels.Stats.Add, PushStats.Add, tlsconn.Stats.Add and
// ClusterStats.Add); the optional
// sections are in the sum if they are in either. Like a map, s's sections are
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
	if o.Channels != nil {
		if s.Channels == nil {
			s.Channels = &channels.Stats{}
		}
		s.Channels.Add(*o.Channels)
	}
	if o.Push != nil {
		if s.Push == nil {
			s.Push = &PushStats{}
		}
		s.Push.Add(*o.Push)
	}
	if o.TLS != nil {
		if s.TLS == nil {
			s.TLS = &tlsconn.Stats{}
		}
		s.TLS.Add(*o.TLS)
	}
	if o.Cluster != nil {
		if s.Cluster == nil {
			s.Cluster = &ClusterStats{}
		}
		s.Cluster.Add(*o.Cluster)
	}
}

// ServerStats returns the Stats of one packet server: Workers 1, no HTTP
// or Chat section.
func ServerStats(st server.Stats) Stats {
	return Stats{Workers: 1, Server: st}
}
