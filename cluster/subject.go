package cluster

// Subjects. Every subject starts with the deployment's prefix
// (Config.Prefix), so deployments sharing a NATS server never hear each
// other. The rest is one of:
//
//	<prefix>.pub.<channel>      a publication (or a join/leave event without a tracker)
//	<prefix>.user.<user>        a direct message to every connection of a user
//	<prefix>.node.<node>        a node's heartbeats, presence deltas and goodbye
//	<prefix>.sync.<node>        a request for a node's presence snapshot
//	<prefix>.inbox.<node>.<inc> where a node's snapshots are sent back
//	<prefix>.relay.<topic>      an application's notices (Relay)
//
// Channel names and user IDs are escaped into one subject token
// (subject.Token).
const (
	kindPub   = "pub"
	kindUser  = "user"
	kindNode  = "node"
	kindSync  = "sync"
	kindInbox = "inbox"
	kindRelay = "relay"
)

// subjects are a Node's subjects, built once from the prefix.
type subjects struct {
	pub, user, node, sync, inbox, relay string // "<prefix>.pub." and so on, ending with '.'
}

func newSubjects(prefix string) subjects {
	return subjects{
		pub:   prefix + "." + kindPub + ".",
		user:  prefix + "." + kindUser + ".",
		node:  prefix + "." + kindNode + ".",
		sync:  prefix + "." + kindSync + ".",
		inbox: prefix + "." + kindInbox + ".",
		relay: prefix + "." + kindRelay + ".",
	}
}
