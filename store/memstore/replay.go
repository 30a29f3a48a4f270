package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// replayGuard remembers consumed states until they expire. A min-heap
// ordered by expiry makes each sweep cost only the entries it removes, so a
// full guard answers in O(log n) instead of rescanning the map on every
// callback.
type replayGuard struct {
	mu      sync.Mutex
	max     int
	expires map[string]time.Time
	queue   expiryHeap
}

// Consume records key until expires and reports whether this call was the
// first to do so (store.ReplayGuard). Expired keys are swept first, so
// a key whose record expired is accepted again. An expires that is not in
// the future records nothing: the key would be forgotten at once. When
// Options.MaxStates unexpired keys are already recorded, Consume returns
// ErrTooManyStates.
func (s *Store) Consume(ctx context.Context, key string, expires time.Time) (first bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memstore: consume: %w", err)
	}
	g := &s.guard
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.sweep(now)
	if _, seen := g.expires[key]; seen {
		return false, nil
	}
	if !expires.After(now) {
		return true, nil
	}
	if len(g.expires) >= g.max {
		return false, fmt.Errorf("memstore: consume: %d states pending: %w", len(g.expires), ErrTooManyStates)
	}
	g.expires[key] = expires
	heap.Push(&g.queue, pending{key: key, expires: expires})
	return true, nil
}

// sweep forgets every key whose expiry is not after now. g.mu must be held.
func (g *replayGuard) sweep(now time.Time) {
	for len(g.queue) > 0 && !g.queue[0].expires.After(now) {
		p := heap.Pop(&g.queue).(pending)
		delete(g.expires, p.key)
	}
}

// pending is one recorded key in the expiry queue. Each recorded key has
// exactly one entry: a key is only pushed when it is absent from the map,
// and it leaves the map only when its entry is popped.
type pending struct {
	key     string
	expires time.Time
}

// expiryHeap implements heap.Interface, earliest expiry first.
type expiryHeap []pending

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(pending)) }
func (h *expiryHeap) Pop() any {
	old := *h
	n := len(old)
	p := old[n-1]
	old[n-1] = pending{}
	*h = old[:n-1]
	return p
}
