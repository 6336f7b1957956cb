package channels

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryHistoryConfig configures a MemoryHistory. Zero fields take the
// defaults in the comments.
type MemoryHistoryConfig struct {
	// StreamTTL is how long a channel's stream (its epoch and offset)
	// outlives its last publication; see HistoryStore. Default
	// DefaultStreamTTL.
	StreamTTL time.Duration
}

// MemoryHistory is the in-memory HistoryStore, the Hub's default. It is
// lost when the process exits: a restarted server has new epochs, so its
// clients resync. It is right for one process; several processes sharing
// channels (wharfd's workers, a cluster) need SQLHistory, or their offsets
// would disagree.
//
// Each entry costs its data plus about 80 bytes; each stream about 150
// bytes plus its ring of HistorySize entries. Expire frees expired ones.
type MemoryHistory struct {
	streamTTL time.Duration
	seed      maphash.Seed
	shards    [memShards]memShard
}

const memShards = 32

type memShard struct {
	mu      sync.Mutex // guards streams and the streams in it
	streams map[string]*memStream
	_       [40]byte // keeps shards' locks on separate cache lines
}

// memStream is one channel's history: a ring of up to cap(ring) entries.
type memStream struct {
	epoch   string
	top     uint64 // offset of the newest entry
	expires int64  // UnixNano after which the stream is forgotten
	ring    []memEntry
	head    int // index of the oldest entry
	n       int // entries in the ring
}

type memEntry struct {
	off     uint64
	time    int64 // Unix ms
	expires int64 // UnixNano
	from    string
	data    []byte // owned by the store, never modified
}

var _ HistoryStore = (*MemoryHistory)(nil)

// NewMemoryHistory returns an empty MemoryHistory.
func NewMemoryHistory(cfg MemoryHistoryConfig) (*MemoryHistory, error) {
	if cfg.StreamTTL < 0 {
		return nil, configError("MemoryHistoryConfig.StreamTTL", "must not be negative, got %v", cfg.StreamTTL)
	}
	if cfg.StreamTTL == 0 {
		cfg.StreamTTL = DefaultStreamTTL
	}
	h := &MemoryHistory{streamTTL: cfg.StreamTTL, seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].streams = map[string]*memStream{}
	}
	return h, nil
}

func (h *MemoryHistory) shard(ch string) *memShard {
	return &h.shards[maphash.String(h.seed, ch)%memShards]
}

// Append implements HistoryStore. It copies m.Data.
func (h *MemoryHistory) Append(_ context.Context, m *Message, opts AppendOptions) (Position, error) {
	now := opts.Now.UnixNano()
	data := append([]byte(nil), m.Data...)
	sh := h.shard(m.Channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.streams[m.Channel]
	if s == nil || s.expires <= now {
		s = &memStream{epoch: newEpoch()}
		sh.streams[m.Channel] = s
	}
	if size := max(opts.Size, 1); cap(s.ring) != size {
		s.resize(size)
	}
	s.top++
	s.expires = now + int64(streamLife(h.streamTTL, opts.TTL))
	e := memEntry{off: s.top, time: m.Time, expires: now + int64(opts.TTL), from: m.From, data: data}
	if s.n < len(s.ring) {
		s.ring[(s.head+s.n)%len(s.ring)] = e
		s.n++
	} else {
		s.ring[s.head] = e
		s.head = (s.head + 1) % len(s.ring)
	}
	return Position{Offset: s.top, Epoch: s.epoch}, nil
}

// resize changes the ring's capacity (the namespace's HistorySize changed),
// keeping the newest entries.
func (s *memStream) resize(size int) {
	ring := make([]memEntry, size)
	keep := min(s.n, size)
	for i := range keep {
		ring[i] = s.ring[(s.head+s.n-keep+i)%len(s.ring)]
	}
	s.ring, s.head, s.n = ring, 0, keep
}

// Read implements HistoryStore.
func (h *MemoryHistory) Read(_ context.Context, ch string, q Query, now time.Time) ([]Message, Position, error) {
	ns := now.UnixNano()
	sh := h.shard(ch)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.streams[ch]
	if s == nil || s.expires <= ns {
		return nil, Position{}, nil
	}
	top := Position{Offset: s.top, Epoch: s.epoch}
	if q.Limit <= 0 {
		return nil, top, nil
	}
	// Entries are in offset order and expire in that order (one TTL per
	// namespace), so the selection is a contiguous run of the ring.
	first := 0 // index within the ring's n of the first selected entry
	for first < s.n {
		e := &s.ring[(s.head+first)%len(s.ring)]
		if e.off > q.After && e.expires > ns {
			break
		}
		first++
	}
	count := min(s.n-first, q.Limit)
	if q.Newest {
		first = s.n - count
	}
	out := make([]Message, count)
	for i := range out {
		e := &s.ring[(s.head+first+i)%len(s.ring)]
		out[i] = Message{Kind: KindPublication, Channel: ch, From: e.from, Offset: e.off, Epoch: s.epoch, Time: e.time, Data: e.data}
	}
	return out, top, nil
}

// Expire implements HistoryStore: it forgets expired streams and clears
// expired entries.
func (h *MemoryHistory) Expire(ctx context.Context, now time.Time) error {
	ns := now.UnixNano()
	for i := range h.shards {
		if err := ctx.Err(); err != nil {
			return err
		}
		sh := &h.shards[i]
		sh.mu.Lock()
		for ch, s := range sh.streams {
			if s.expires <= ns {
				delete(sh.streams, ch)
				continue
			}
			for s.n > 0 && s.ring[s.head].expires <= ns {
				s.ring[s.head] = memEntry{}
				s.head = (s.head + 1) % len(s.ring)
				s.n--
			}
		}
		sh.mu.Unlock()
	}
	return nil
}
