package channels

import (
	"fmt"
	"time"
)

// Access says who may do something in a namespace: subscribe (and read
// presence and history), or publish. The zero value is AccessUsers.
//
// The backend (Hub methods, SubscribeOptions.Server) is never refused.
type Access uint8

const (
	// AccessUsers admits logged-in users (a Subscriber with a UserID).
	AccessUsers Access = iota
	// AccessAnyone admits anonymous connections too.
	AccessAnyone
	// AccessOwner admits only the channel's owner: the user whose ID is
	// the channel's local name ("42" for "user:42").
	AccessOwner
	// AccessServer admits no client: only the application's backend (Hub
	// methods, the push API) may do it.
	AccessServer
)

var accessNames = [...]string{AccessUsers: "users", AccessAnyone: "anyone", AccessOwner: "owner", AccessServer: "server"}

// String returns the configuration spelling: "users", "anyone", "owner" or
// "server".
func (a Access) String() string {
	if int(a) < len(accessNames) {
		return accessNames[a]
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// MarshalText returns String, so an Access reads and writes as a word in
// TOML and JSON.
func (a Access) MarshalText() ([]byte, error) {
	if int(a) >= len(accessNames) {
		return nil, fmt.Errorf("channels: invalid Access %d", uint8(a))
	}
	return []byte(accessNames[a]), nil
}

// UnmarshalText parses "users", "anyone", "owner" or "server".
func (a *Access) UnmarshalText(b []byte) error {
	for i, n := range accessNames {
		if string(b) == n {
			*a = Access(i)
			return nil
		}
	}
	return fmt.Errorf("channels: access %q: want users, anyone, owner or server", b)
}

// allows reports whether user (the empty string for anonymous) may act on
// channel ch under a.
func (a Access) allows(user string, ch Name) bool {
	switch a {
	case AccessAnyone:
		return true
	case AccessUsers:
		return user != ""
	case AccessOwner:
		return user != "" && ch.Local() == user
	}
	return false
}

// Namespace configures the channels whose names start with Name + ":" (or,
// for Name "", the channels without a namespace). Zero fields take the
// defaults in the comments.
type Namespace struct {
	// Name is the namespace: a lower-case letter, then up to 31 of
	// [a-z0-9_-]. "" is the default namespace.
	Name string

	// Subscribe says who may subscribe, and read the channel's presence
	// and history. Default AccessUsers.
	Subscribe Access
	// Publish says who may publish. Default AccessUsers.
	Publish Access

	// Presence keeps who is subscribed, by user (anonymous connections
	// are not members). Default off.
	Presence bool
	// JoinLeave sends join and leave events to the subscribers that ask
	// for them (SubscribeOptions.JoinLeave). It needs Presence: a user's
	// first connection in the channel joins it, the last one to go leaves.
	// Default off.
	JoinLeave bool

	// HistorySize is how many recent publications each channel keeps for
	// recovery and history queries. 0 (the default) keeps none: the
	// channel's publications then carry no offsets and cannot be
	// recovered.
	HistorySize int
	// HistoryTTL is how long a publication stays in history. Default 24h
	// when HistorySize > 0.
	HistoryTTL time.Duration

	// MaxSubscribers bounds a channel's subscribers on this node. 0 (the
	// default) is no bound.
	MaxSubscribers int
}

// DefaultHistoryTTL is Namespace.HistoryTTL's default.
const DefaultHistoryTTL = 24 * time.Hour

// DefaultNamespaces is the configuration used when Config.Namespaces is
// nil:
//
//   - the default namespace ("general", say): logged-in users subscribe and
//     publish; no presence, no history;
//   - "room" ("room:lobby"): logged-in users subscribe and publish, with
//     presence, join/leave events, and the last 100 publications for 24 h;
//   - "user" ("user:42"): the personal channel of a user, which only that
//     user may subscribe to and only the backend may publish to, with the
//     last 100 publications for 24 h (notifications that survive a
//     reconnect).
func DefaultNamespaces() []Namespace {
	return []Namespace{
		{Name: ""},
		{Name: "room", Presence: true, JoinLeave: true, HistorySize: 100, HistoryTTL: DefaultHistoryTTL},
		{Name: "user", Subscribe: AccessOwner, Publish: AccessServer, HistorySize: 100, HistoryTTL: DefaultHistoryTTL},
	}
}

// withDefaults validates ns (as field, for errors) and fills its defaults.
func (ns Namespace) withDefaults(field string) (Namespace, error) {
	if ns.Name != "" {
		if reason := namespaceProblem(ns.Name); reason != "" {
			return ns, configError(field+".Name", "%q: %s", ns.Name, reason)
		}
	}
	switch {
	case ns.Subscribe > AccessServer:
		return ns, configError(field+".Subscribe", "invalid access %d", ns.Subscribe)
	case ns.Publish > AccessServer:
		return ns, configError(field+".Publish", "invalid access %d", ns.Publish)
	case ns.JoinLeave && !ns.Presence:
		return ns, configError(field+".JoinLeave", "needs Presence")
	case ns.HistorySize < 0:
		return ns, configError(field+".HistorySize", "must not be negative, got %d", ns.HistorySize)
	case ns.HistoryTTL < 0:
		return ns, configError(field+".HistoryTTL", "must not be negative, got %v", ns.HistoryTTL)
	case ns.HistoryTTL > 0 && ns.HistorySize == 0:
		return ns, configError(field+".HistoryTTL", "set without HistorySize")
	case ns.MaxSubscribers < 0:
		return ns, configError(field+".MaxSubscribers", "must not be negative, got %d", ns.MaxSubscribers)
	}
	if ns.HistorySize > 0 && ns.HistoryTTL == 0 {
		ns.HistoryTTL = DefaultHistoryTTL
	}
	return ns, nil
}

// history reports whether the namespace keeps history.
func (ns *Namespace) history() bool { return ns.HistorySize > 0 }
