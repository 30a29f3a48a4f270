// Package replayguard is the module's one in-memory replay guard: the
// guard of store/memstore, and the Connector's own when its store offers
// none. It remembers consumed callback states until they expire, bounded
// in size, on an injected clock.
package replayguard

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// ErrFull is returned by Consume when max unexpired keys are already
// recorded: the guard refuses rather than forgets a key early, so a
// callback fails closed.
var ErrFull = errors.New("replay guard full")

// Guard remembers keys until they expire. A min-heap ordered by expiry
// makes each sweep cost only the entries it removes, so a full guard
// answers in O(log n) instead of rescanning the map on every call.
// Safe for concurrent use.
type Guard struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	expires map[string]time.Time
	queue   expiryHeap
}

// New returns a guard of at most max unexpired keys on the clock now.
func New(max int, now func() time.Time) *Guard {
	return &Guard{max: max, now: now, expires: make(map[string]time.Time)}
}

// Consume records key until expires and reports whether this call was the
// first to do so (store.ReplayGuard). Expired keys are swept first, so a
// key whose record expired is accepted again. An expires that is not in
// the future records nothing: the key would be forgotten at once. A done
// ctx returns its error; a full guard returns ErrFull.
func (g *Guard) Consume(ctx context.Context, key string, expires time.Time) (first bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.sweep(now)
	if _, seen := g.expires[key]; seen {
		return false, nil
	}
	if !expires.After(now) {
		return true, nil
	}
	if len(g.expires) >= g.max {
		return false, ErrFull
	}
	g.expires[key] = expires
	heap.Push(&g.queue, pending{key: key, expires: expires})
	return true, nil
}

// Len reports how many unexpired keys are recorded, as of the last call.
func (g *Guard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.expires)
}

// sweep forgets every key whose expiry is not after now. g.mu must be held.
func (g *Guard) sweep(now time.Time) {
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
