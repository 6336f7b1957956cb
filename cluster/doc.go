// Package cluster runs several wharf nodes as one service over NATS: a
// message published on any node reaches the subscribers on every node,
// direct messages find their user wherever they are connected, and
// presence is cluster-wide, with node liveness. Its Node implements
// package channels' Broker and PresenceTracker; history is not here but
// in the database every node shares (channels.SQLHistory on PostgreSQL),
// which is also where the accounts and login sessions live, so a token
// issued by one node is valid on all.
//
// # Using it
//
//	node, err := cluster.New(cluster.Config{URL: "nats://10.0.0.5:4222", NodeName: "web-1"})
//	hub, err := channels.NewHub(channels.Config{
//		Encoder:  enc,
//		Broker:   node, // publications and direct messages to the other nodes
//		Presence: node, // cluster-wide presence; the Hub tracks its own into it
//		History:  history, // channels.OpenSQLHistory on the shared PostgreSQL
//	})
//	... serve ...
//	node.Close() // after the server stopped: the others drop this node's presence at once
//
// wharfd does this when its configuration has a [cluster] table (see the
// README's "Cluster" section; scripts/cluster.sh starts one locally).
//
// # Subjects
//
// Every subject starts with Config.Prefix ("wharf"), so deployments can
// share a NATS server:
//
//	<prefix>.pub.<channel>      publications of a channel
//	<prefix>.user.<user>        direct messages to a user
//	<prefix>.node.<node>        a node's hello, heartbeats, presence deltas and goodbye
//	<prefix>.sync.<node>        requests for a node's presence snapshot
//	<prefix>.inbox.<node>.<inc> the snapshots a node asked for
//	<prefix>.relay.<topic>      an application's notices between nodes (Relay)
//
// A channel name or user ID is one subject token: the characters of
// package channels' name grammar stand for themselves, except '.', and
// any other byte (a '.', '*', '>', '%', white space, non-ASCII) is
// written %XX, so "room:a.b" travels on wharf.pub.room:a%2Eb and no name
// can reach into another subject or be a wildcard. Node names are
// letters, digits, '_' and '-' only. SPEC.md gives the wire format of
// every message.
//
// Every node subscribes to <prefix>.pub.> and <prefix>.user.>: it hears
// every publication and direct message of the cluster and its Hub drops
// those for which it has no subscriber. That costs the broker one copy
// per node of each message, which is what a fan-out service wants
// (publications are few, deliveries many: see bench/RESULTS.md for the
// arithmetic), and leaves no window where a new subscription has not yet
// reached the broker. Subjects per channel keep interest routing open for
// later without a wire change.
//
// # Node identity and liveness
//
// A node is its NodeName plus an incarnation, a random number drawn at
// each start: two incarnations of one name are two nodes. That is how a
// restarted node is told from the one before (which goes with its
// goodbye, or after its DeadAfter if it was killed), and how the old
// generation of a wharfd worker, draining after a reload or an upgrade,
// keeps its connections in presence beside the new one of the same name.
// Names are for people (logs, the dashboard); they should differ between
// machines. The connection asks the server not to echo the node's own
// messages back (NATS no_echo), and the envelope carries the incarnation
// too, so a node never delivers its own publication twice.
//
// A node says hello when it starts and whenever it reconnects; everyone
// who hears it answers with a heartbeat, so it learns the cluster at once.
// Then it sends a heartbeat every Config.Heartbeat (1 s), carrying its
// DeadAfter (3 heartbeats). A node silent for its DeadAfter is presumed
// dead: each other node drops its presence, delivers the leave events,
// logs it and counts it (Stats.NodesLost). Each node checks at every one
// of its own heartbeats, so a node killed with -9 disappears from
// presence within DeadAfter plus one Heartbeat (4 s by default;
// TestKilledNodeLeavesPresence checks the bound with 50 ms heartbeats).
// A node that closes cleanly says goodbye and disappears at once.
//
// # Presence
//
// The Hub tells its Node of every change of its presence (Track: user U
// has N connections in channel C here). The Node keeps its own table,
// and announces the changes PresenceDelay (10 ms) later, batched into
// deltas numbered 1, 2, 3... that carry counts, not increments. Each node
// keeps a copy of every other node's table and answers Members from
// memory, summing connections over nodes: asking for presence costs no
// round trip. A copy is filled by a snapshot, asked of the node on first
// sight and whenever a delta went
// missing (the next delta's number, or a heartbeat's, shows the gap);
// deltas arriving meanwhile wait for it and apply after it. The model
// test in view_test.go drops, delays and reorders these messages at
// random and checks that the copies converge.
//
// Join and leave events are cluster-wide: a user's first connection in a
// channel anywhere in the cluster sends the join, the last one's leave
// the leave, to the listeners on every node. The Hub sends its own
// connections' events when Track says the user is new to, or gone from,
// the cluster; the other nodes derive theirs from the deltas. A user
// joining on one node while leaving another within the same few
// milliseconds may make a listener see a leave and a join (or a join
// twice); presence queries stay exact.
//
// Each node holds the whole cluster's presence: about 100 bytes per
// (channel, user) pair with presence, on every node.
//
// # Delivery semantics
//
// Exactly what holds:
//
//   - Fan-out across nodes is at most once. A publication reaches the
//     publishing node's subscribers first, synchronously, then goes to the
//     broker; NATS core delivers it to each other node once or, if the
//     broker or a node's link to it fails, not at all. Nothing is retried
//     or stored by the broker.
//   - Order: the publications one node makes on one channel reach every
//     other node in the order made (one connection, one subscription).
//     Publications of different nodes on one channel may interleave
//     differently on different nodes.
//   - Offsets are monotonic per channel across nodes: the shared SQL
//     history allocates them in the database (one transaction per
//     publication), so the publications of a channel are numbered 1, 2,
//     3... in one epoch whichever node makes them.
//   - Recovery fills what fan-out loses. A client keeps the last offset
//     it saw per channel, drops what is at or below it (possible when a
//     publication of another node arrives after a later local one), and
//     on a gap, or after reconnecting to any node, resubscribes with
//     Recover: the history, the same on every node, gives it what it
//     missed, or tells it to resync. Channels without history (offsets 0)
//     have no recovery: what a broker outage loses is lost.
//   - Direct messages are at most once, not kept, like on one node.
//   - Presence converges: another node's change is visible within
//     PresenceDelay plus the broker's latency; a dead node's connections
//     go within its DeadAfter plus a heartbeat.
//
// # Outages
//
// When the NATS server goes away, nats.go reconnects forever (every
// ReconnectWait, 1 s). Meanwhile Publish fails at once with
// ErrNotConnected (the connection keeps no reconnect buffer, so no stale
// burst arrives when the server returns): the Hub has delivered to its
// own connections already, counts a broker error and logs one line per
// outage; the Node counts the refusal, the disconnection, and logs it.
// After DeadAfter, each node sees the others as dead and presence falls
// back to its own connections. When the server returns, the nodes
// reconnect (counted, logged), say hello, resync presence from
// snapshots, and cross-node delivery resumes with the next publication;
// clients recover the gap from history as above.
//
// A node restart loses nothing of history (it is in the database) and
// nothing of accounts or sessions; it loses its in-memory presence,
// which was its own connections' (they are gone with it and come back as
// they reconnect) and its copies of the others' (resynced from snapshots
// within a round trip), and the publications in flight through it.
//
// # Goroutines
//
// Every method of Node is safe for concurrent use. Publish never blocks:
// it queues the encoded message for the node's sender goroutine (at most
// SendQueue) or fails. Messages from other nodes are delivered to the
// Hub on nats.go's subscription goroutines (one for publications, one for
// direct messages, one for the cluster's control messages, so a busy
// fan-out never delays a heartbeat); beyond PendingLimit waiting, nats.go
// drops them (a slow consumer, counted in Stats.Dropped and logged). The
// node's own loop goroutine sends hello, heartbeats and deltas (in that
// one goroutine, so their numbers go out in order), checks liveness, and
// delivers join and leave events to the Hub holding no lock, because the
// Hub calls Track with a channel's lock held. Close stops both goroutines
// and closes the connection.
//
// # Beside channels
//
// Node.Relay is a topic relay between the nodes with the shape of
// channels.Relay, for an application's own notices (wharfd's chat sends
// logouts on it, so a session ended on one node ends its packet logins on
// all); at most once, like the rest.
//
// # Metrics
//
// Stats has, per node: Published and Received messages, Refused (not
// sent: outage or full queue) and Dropped (slow consumer), Reconnects
// and Disconnects, NodesLost, presence Syncs, the Lag histogram (from
// publication on the sending node to receipt here; across machines it
// includes their clock difference), and the gauges Connected and Nodes.
// wharfd exports them as wharf_cluster_* metrics and lists the nodes
// (Nodes) on its dashboard.
package cluster
