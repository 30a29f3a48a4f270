package oauthlink

import (
	"sync"
	"time"
)

// maxFlowsPerOwner is how many callbacks of one owner a Connector lets
// record a state in the replay guard while those records live (FlowTTL
// plus a minute after each flow started). Beyond it the callback fails
// with errTooManyFlows before the guard or the provider is called. A
// person connecting an account completes a handful of flows in that
// time; the limit exists so that one signed-in user looping through
// flows cannot fill a replay guard every owner shares (the in-process
// guard and memstore's hold 100,000 states) or spend the app's quota at
// the provider's token endpoint. Each Connector (each process) counts on
// its own, so N instances on one shared guard allow N times as many.
const maxFlowsPerOwner = 100

// flowBudget is the per-owner count behind maxFlowsPerOwner. For each
// owner it keeps the number of guard records it let through and the time
// by which all of them expire; once that time has passed the count starts
// again from zero. The count may run ahead of the records still alive
// (one expiring early does not lower it), never behind them, so an owner
// never holds more than the budget. It costs one lock and one map lookup
// per callback that reaches the guard, and owners whose records all
// expired are swept whenever the map has doubled since the last sweep,
// so it holds at most about twice the owners with a live record.
type flowBudget struct {
	mu      sync.Mutex
	owners  map[string]ownerFlows
	sweepAt int
}

type ownerFlows struct {
	n     int
	until int64 // unix nanoseconds; every counted record expires by then
}

// minBudgetSweep is the map size below which the budget never sweeps.
const minBudgetSweep = 1024

// take counts one more guard record, expiring at expires, for owner, and
// reports false, counting nothing, when owner already has limit.
func (b *flowBudget) take(owner string, now, expires time.Time, limit int) bool {
	nowNs, expNs := now.UnixNano(), expires.UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	o, known := b.owners[owner]
	if nowNs >= o.until {
		o = ownerFlows{}
	}
	if o.n >= limit {
		return false
	}
	o.n++
	o.until = max(o.until, expNs)
	if !known && len(b.owners) >= b.sweepAt {
		b.sweep(nowNs)
	}
	if b.owners == nil {
		b.owners = make(map[string]ownerFlows)
	}
	b.owners[owner] = o
	return true
}

// give returns a record take counted that the guard certainly did not
// keep (a replayed state).
func (b *flowBudget) give(owner string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.owners[owner]; ok && o.n > 0 {
		o.n--
		b.owners[owner] = o
	}
}

// sweep drops the owners whose records have all expired. b.mu must be
// held.
func (b *flowBudget) sweep(nowNs int64) {
	for k, o := range b.owners {
		if nowNs >= o.until {
			delete(b.owners, k)
		}
	}
	b.sweepAt = max(2*len(b.owners), minBudgetSweep)
}

// size is the number of owners tracked, for tests.
func (b *flowBudget) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.owners)
}
