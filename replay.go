package oauthlink

import (
	"context"
	"errors"
	"sync"
	"time"
)

// memoryGuard is the default store.ReplayGuard when the store offers none: correct
// for one instance. It holds at most max entries, sweeping expired ones when
// full and refusing (an error, so the callback fails closed) beyond that.
// Only callbacks that reach the code exchange record a state, and at most
// maxFlowsPerOwner of them per owner at a time, so filling it takes
// max/maxFlowsPerOwner signed-in owners, not one.
type memoryGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
	max  int
	now  func() time.Time
}

func newMemoryGuard(max int, now func() time.Time) *memoryGuard {
	return &memoryGuard{seen: make(map[string]time.Time), max: max, now: now}
}

var errGuardFull = errors.New("oauthlink: replay guard full")

func (g *memoryGuard) Consume(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if exp, ok := g.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(g.seen) >= g.max {
		for k, exp := range g.seen {
			if !now.Before(exp) {
				delete(g.seen, k)
			}
		}
		if len(g.seen) >= g.max {
			return false, errGuardFull
		}
	}
	g.seen[key] = expires
	return true, nil
}
