package channels

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"wharf/accounts"
	"wharf/internal/pgtest"
)

// historyBackend makes HistoryStores of one kind for a test.
type historyBackend struct {
	name string
	// durable: stores opened on the same database share their data.
	durable bool
	// database returns a function opening a store on one fresh database
	// (closed when the test ends); for memory, each call is a new store.
	database func(t testing.TB) func() HistoryStore
}

var historyBackends = []historyBackend{
	{"memory", false, func(t testing.TB) func() HistoryStore {
		return func() HistoryStore {
			h, err := NewMemoryHistory(MemoryHistoryConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
	}},
	{"sqlite", true, func(t testing.TB) func() HistoryStore {
		url := "sqlite://" + filepath.Join(t.TempDir(), "wharf.db")
		return func() HistoryStore { return openSQLHistory(t, url) }
	}},
	{"postgres", true, func(t testing.TB) func() HistoryStore {
		url := pgtest.New(t)
		return func() HistoryStore { return openSQLHistory(t, url) }
	}},
}

// openSQLHistory opens an accounts store at url and an SQLHistory on its
// database, as wharfd does.
func openSQLHistory(t testing.TB, url string) *SQLHistory {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := accounts.Open(ctx, url, accounts.StoreOptions{})
	if err != nil {
		t.Fatalf("accounts.Open(%s): %v", accounts.RedactURL(url), err)
	}
	t.Cleanup(func() { st.Close() })
	db, ok := accounts.DatabaseOf(st)
	if !ok {
		t.Fatal("DatabaseOf: not a known store")
	}
	h, err := OpenSQLHistory(ctx, SQLDatabase{Dialect: db.Dialect, Writer: db.Writer, Reader: db.Reader}, SQLHistoryConfig{})
	if err != nil {
		t.Fatalf("OpenSQLHistory: %v", err)
	}
	return h
}

func forEachHistory(t *testing.T, fn func(t *testing.T, b historyBackend, open func() HistoryStore)) {
	for _, b := range historyBackends {
		t.Run(b.name, func(t *testing.T) { fn(t, b, b.database(t)) })
	}
}

func appendN(t testing.TB, h HistoryStore, ch string, n int, opts AppendOptions) []Position {
	t.Helper()
	var out []Position
	for i := range n {
		m := &Message{Kind: KindPublication, Channel: ch, From: "7", Time: opts.Now.UnixMilli(), Data: fmt.Appendf(nil, `"%s-%d"`, ch, i)}
		pos, err := h.Append(t.Context(), m, opts)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		out = append(out, pos)
	}
	return out
}

func TestHistoryWindow(t *testing.T) {
	forEachHistory(t, func(t *testing.T, b historyBackend, open func() HistoryStore) {
		h, ctx, now := open(), t.Context(), t0
		opts := AppendOptions{Size: 3, TTL: time.Hour, Now: now}
		if msgs, pos, err := h.Read(ctx, "room:a", Query{Limit: 10}, now); err != nil || len(msgs) != 0 || pos != (Position{}) {
			t.Fatalf("Read of a missing stream = %v, %v, %v", msgs, pos, err)
		}
		ps := appendN(t, h, "room:a", 5, opts)
		epoch := ps[0].Epoch
		for i, p := range ps {
			if p.Offset != uint64(i+1) || p.Epoch != epoch || epoch == "" {
				t.Fatalf("positions = %v", ps)
			}
		}
		appendN(t, h, "room:b", 1, opts) // another channel has its own offsets
		msgs, pos, err := h.Read(ctx, "room:a", Query{Limit: 10}, now)
		if err != nil || pos != ps[4] || !slices.Equal(offsets(msgs), []uint64{3, 4, 5}) {
			t.Fatalf("Read = %v at %v, %v; want offsets 3..5 at %v", offsets(msgs), pos, err, ps[4])
		}
		m := msgs[0]
		if m.Channel != "room:a" || m.From != "7" || m.Epoch != epoch || m.Time != now.UnixMilli() || string(m.Data) != `"room:a-2"` || m.Kind != KindPublication {
			t.Fatalf("entry = %+v", m)
		}
		for _, tt := range []struct {
			q    Query
			want []uint64
		}{
			{Query{After: 3, Limit: 10}, []uint64{4, 5}},
			{Query{After: 0, Limit: 2}, []uint64{3, 4}},
			{Query{After: 0, Limit: 2, Newest: true}, []uint64{4, 5}},
			{Query{After: 4, Limit: 2, Newest: true}, []uint64{5}},
			{Query{After: 5, Limit: 2}, []uint64{}},
			{Query{Limit: 0}, []uint64{}},
		} {
			msgs, pos, err := h.Read(ctx, "room:a", tt.q, now)
			if err != nil || pos != ps[4] || !slices.Equal(offsets(msgs), tt.want) {
				t.Errorf("Read(%+v) = %v at %v, %v; want %v", tt.q, offsets(msgs), pos, err, tt.want)
			}
		}
		if b.durable {
			// A restarted server keeps the epoch and continues the offsets.
			h2 := open()
			p := appendN(t, h2, "room:a", 1, opts)[0]
			if p != (Position{Offset: 6, Epoch: epoch}) {
				t.Fatalf("after reopening: %v, want 6 in %s", p, epoch)
			}
		} else if _, pos, _ := open().Read(ctx, "room:a", Query{}, now); pos != (Position{}) {
			t.Fatalf("a new memory store has %v", pos)
		}
	})
}

func TestHistoryTTL(t *testing.T) {
	forEachHistory(t, func(t *testing.T, b historyBackend, open func() HistoryStore) {
		h, ctx, now := open(), t.Context(), t0
		opts := func() AppendOptions { return AppendOptions{Size: 10, TTL: time.Minute, Now: now} }
		first := appendN(t, h, "room:a", 2, opts())
		now = now.Add(40 * time.Second)
		appendN(t, h, "room:a", 1, opts())
		now = now.Add(30 * time.Second) // the first two are 70 s old, the third 30 s
		msgs, pos, err := h.Read(ctx, "room:a", Query{Limit: 10}, now)
		if err != nil || !slices.Equal(offsets(msgs), []uint64{3}) || pos.Offset != 3 || pos.Epoch != first[0].Epoch {
			t.Fatalf("after 70 s: %v at %v, %v", offsets(msgs), pos, err)
		}
		if err := h.Expire(ctx, now); err != nil {
			t.Fatal(err)
		}
		if msgs, _, _ := h.Read(ctx, "room:a", Query{Limit: 10}, now); !slices.Equal(offsets(msgs), []uint64{3}) {
			t.Fatalf("Expire changed what a read sees: %v", offsets(msgs))
		}
		// The stream outlives its entries by DefaultStreamTTL; past that
		// it is forgotten, and the next publication starts a new epoch.
		now = now.Add(time.Hour)
		if msgs, pos, _ := h.Read(ctx, "room:a", Query{Limit: 10}, now); len(msgs) != 0 || pos.Offset != 3 {
			t.Fatalf("entries expired, stream kept: %v at %v", offsets(msgs), pos)
		}
		now = now.Add(DefaultStreamTTL)
		if _, pos, _ := h.Read(ctx, "room:a", Query{}, now); pos != (Position{}) {
			t.Fatalf("expired stream still at %v", pos)
		}
		p := appendN(t, h, "room:a", 1, opts())[0]
		if p.Offset != 1 || p.Epoch == first[0].Epoch {
			t.Fatalf("after the stream expired: %v (old epoch %s)", p, first[0].Epoch)
		}
		if msgs, _, _ := h.Read(ctx, "room:a", Query{Limit: 10}, now); !slices.Equal(offsets(msgs), []uint64{1}) {
			t.Fatalf("new epoch holds %v", offsets(msgs))
		}
		if err := h.Expire(ctx, now.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if sh, ok := h.(*SQLHistory); ok {
			var n int
			sh.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM channels_history`).Scan(&n)
			var s int
			sh.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM channels_streams`).Scan(&s)
			if n != 0 || s != 0 {
				t.Fatalf("Expire left %d entries and %d streams", n, s)
			}
		}
	})
}

// TestHistoryOffsetsMonotonicAcrossStores appends to one channel from
// several goroutines through two stores on one database, as two wharfd
// processes would: every offset is handed out once, with no gap.
func TestHistoryOffsetsMonotonicAcrossStores(t *testing.T) {
	forEachHistory(t, func(t *testing.T, b historyBackend, open func() HistoryStore) {
		stores := []HistoryStore{open()}
		if b.durable {
			stores = append(stores, open())
		}
		const perWorker, workers = 25, 4
		var (
			mu   sync.Mutex
			seen []uint64
			wg   sync.WaitGroup
		)
		now := t0
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := stores[w%len(stores)]
				var mine []uint64
				for range perWorker {
					p, err := h.Append(context.Background(), &Message{Channel: "room:x", Data: []byte(`1`)}, AppendOptions{Size: 1000, TTL: time.Hour, Now: now})
					if err != nil {
						t.Error(err)
						return
					}
					if len(mine) > 0 && p.Offset <= mine[len(mine)-1] {
						t.Errorf("offset %d after %d from one worker", p.Offset, mine[len(mine)-1])
					}
					mine = append(mine, p.Offset)
				}
				mu.Lock()
				seen = append(seen, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(seen)
		for i, off := range seen {
			if off != uint64(i+1) {
				t.Fatalf("offsets %v...: %d at index %d", seen[:min(len(seen), 10)], off, i)
			}
		}
		msgs, pos, err := stores[0].Read(t.Context(), "room:x", Query{Limit: 1000}, now)
		if err != nil || len(msgs) != perWorker*workers || pos.Offset != perWorker*workers {
			t.Fatalf("Read: %d entries at %v, %v", len(msgs), pos, err)
		}
	})
}

func TestOpenSQLHistoryErrors(t *testing.T) {
	if _, err := OpenSQLHistory(t.Context(), SQLDatabase{Dialect: "sqlite"}, SQLHistoryConfig{}); err == nil {
		t.Fatal("nil Writer accepted")
	}
	st, err := accounts.Open(t.Context(), "sqlite://:memory:", accounts.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, _ := accounts.DatabaseOf(st)
	if _, err := OpenSQLHistory(t.Context(), SQLDatabase{Dialect: "mysql", Writer: db.Writer}, SQLHistoryConfig{}); err == nil {
		t.Fatal("mysql accepted")
	}
	// Opening twice migrates once.
	for range 2 {
		if _, err := OpenSQLHistory(t.Context(), SQLDatabase{Dialect: db.Dialect, Writer: db.Writer, Reader: db.Reader}, SQLHistoryConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Writer.Exec(`INSERT INTO channels_migrations (version, applied_us) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLHistory(t.Context(), SQLDatabase{Dialect: db.Dialect, Writer: db.Writer}, SQLHistoryConfig{}); err == nil {
		t.Fatal("a newer schema accepted")
	}
}
