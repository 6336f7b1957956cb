package channels

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestRosterModel checks a roster against a slice under random adds and
// removals, around the block boundaries, with the index bookkeeping that
// channel subscriptions do.
func TestRosterModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var r roster
	var model []*Client
	pos := map[*Client]int32{}
	for step := range 20000 {
		if len(model) == 0 || (rng.IntN(100) < 55 && len(model) < 3*blockSize+7) {
			c := &Client{}
			i := r.add(c)
			if int(i) != len(model) {
				t.Fatalf("step %d: add returned %d, want %d", step, i, len(model))
			}
			model = append(model, c)
			pos[c] = i
		} else {
			victim := model[rng.IntN(len(model))]
			i := pos[victim]
			moved := r.remove(i)
			delete(pos, victim)
			last := len(model) - 1
			if int(i) != last {
				if moved != model[last] {
					t.Fatalf("step %d: remove(%d) moved %p, want the last %p", step, i, moved, model[last])
				}
				model[i] = moved
				pos[moved] = i
			} else if moved != nil {
				t.Fatalf("step %d: removing the last moved %p", step, moved)
			}
			model = model[:last]
		}
		s := r.load()
		if s == nil {
			if len(model) != 0 {
				t.Fatalf("step %d: empty snapshot for %d clients", step, len(model))
			}
			continue
		}
		if s.n != len(model) || r.len() != len(model) {
			t.Fatalf("step %d: n = %d, want %d", step, s.n, len(model))
		}
		for i, c := range model {
			if s.at(i) != c {
				t.Fatalf("step %d: index %d differs", step, i)
			}
		}
		for bi, b := range s.blocks[:len(s.blocks)-1] {
			if len(b) != blockSize {
				t.Fatalf("step %d: block %d of %d is not full", step, bi, len(s.blocks))
			}
		}
	}
}

// TestRosterSnapshotsAreStable checks, under -race, that readers iterating
// old snapshots never see a write: every snapshot keeps the contents it was
// published with while writers add and remove.
func TestRosterSnapshotsAreStable(t *testing.T) {
	var (
		r    roster
		mu   sync.Mutex // the writers' lock
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				s := r.load()
				if s == nil {
					continue
				}
				first := make([]*Client, s.n)
				for i := range s.n {
					first[i] = s.at(i)
				}
				for i := range s.n {
					if s.at(i) != first[i] || s.at(i) == nil {
						t.Error("a published snapshot changed")
						return
					}
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var in []*Client
	for range 20000 {
		mu.Lock()
		if len(in) < 600 && (len(in) == 0 || rng.IntN(2) == 0) {
			c := &Client{}
			r.add(c)
			in = append(in, c)
		} else {
			i := rng.IntN(len(in))
			if moved := r.remove(int32(i)); moved != nil {
				in[i] = moved
			}
			in = in[:len(in)-1]
		}
		mu.Unlock()
	}
	close(done)
	wg.Wait()
}
