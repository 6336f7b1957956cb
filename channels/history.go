package channels

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"time"
)

// HistoryStore keeps the recent publications of each channel, numbered by
// offset within an epoch, for recovery and history queries. The Hub calls
// it for namespaces with Namespace.HistorySize > 0.
//
// Two implementations come with the package:
//
//   - MemoryHistory (the default): fast, in this process only, and lost
//     when the process exits. Every epoch changes with a restart, so
//     clients reconnecting to a restarted server are told to resync. With
//     several wharfd worker processes or nodes, each would number
//     publications on its own: use SQLHistory there.
//   - SQLHistory: SQLite or PostgreSQL, in the accounts database. It
//     survives restarts (epochs are kept), and offsets stay monotonic when
//     several processes or nodes share the database, because the database
//     allocates them.
//
// A stream (a channel's history) exists from its first publication until
// no publication has been made for its stream TTL (see the stores'
// configs; never less than the namespace's HistoryTTL). Then it is
// forgotten, and the next publication starts a new epoch at offset 1: a
// client recovering across that gap is told to resync.
//
// Methods are safe for concurrent use, block until the store answers or
// ctx is done, and take the current time from the caller (the Hub's
// Config.Clock), never from the system clock. Messages returned belong to
// the caller, but their Data may be shared with the store and other
// callers: never modify it.
type HistoryStore interface {
	// Append adds a publication (m.Channel, m.From, m.Time, m.Data; Offset
	// and Epoch are ignored) to its channel's history, assigns it the next
	// offset, and drops what falls out of the window: all but the newest
	// opts.Size entries. It returns the new publication's position. It
	// keeps nothing of m after returning.
	Append(ctx context.Context, m *Message, opts AppendOptions) (Position, error)

	// Read returns up to q.Limit publications of channel with offsets
	// above q.After, oldest first, consecutive and not expired at now,
	// together with the stream's newest position (the zero Position if
	// the stream does not exist). With q.Newest it returns the newest
	// q.Limit of them instead of the oldest. A q.Limit of 0 returns only
	// the position.
	Read(ctx context.Context, channel string, q Query, now time.Time) ([]Message, Position, error)

	// Expire frees what has expired at now: entries past their TTL and
	// streams past their stream TTL. Reads and appends already ignore
	// expired data; Expire reclaims the space. Call it periodically
	// (Hub.RunExpiry does).
	Expire(ctx context.Context, now time.Time) error
}

// AppendOptions is the namespace's history policy, passed with each Append
// (namespaces are configured in the Hub, not in the store).
type AppendOptions struct {
	Size int           // keep at most this many newest entries; > 0
	TTL  time.Duration // keep each entry this long; > 0
	Now  time.Time     // the publication's time
}

// Query selects publications of one channel's history.
type Query struct {
	// After selects offsets above it; 0 selects from the start.
	After uint64
	// Limit bounds how many are returned; 0 asks for the position only.
	Limit int
	// Newest returns the newest Limit publications instead of the oldest.
	Newest bool
}

// DefaultStreamTTL is how long a stream outlives its last publication
// unless a store's config says otherwise (or the namespace's HistoryTTL is
// longer).
const DefaultStreamTTL = 24 * time.Hour

// recoverable reports whether pubs, the publications after since.Offset
// that a store returned (oldest first), are exactly those a client at
// since has missed from a stream now at top.
func recoverable(since, top Position, pubs []Message) bool {
	if since == (Position{}) { // nothing seen: recoverable if history starts at 1
		return top.Offset == 0 || (uint64(len(pubs)) == top.Offset && pubs[0].Offset == 1)
	}
	if since.Epoch != top.Epoch || since.Offset > top.Offset {
		return false
	}
	need := top.Offset - since.Offset
	return need == 0 || (uint64(len(pubs)) == need && pubs[0].Offset == since.Offset+1 && pubs[len(pubs)-1].Offset == top.Offset)
}

// newEpoch returns a random epoch: 10 characters, 50 bits.
func newEpoch() string {
	var b [7]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on failure)
	return epochEncoding.EncodeToString(b[:])[:10]
}

var epochEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// streamLife is how long a stream lives after a publication.
func streamLife(streamTTL, entryTTL time.Duration) time.Duration { return max(streamTTL, entryTTL) }
