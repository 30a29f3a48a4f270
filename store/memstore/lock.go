package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// lockSweepInterval is how often Lock drops lock entries whose holder let
// them expire, so a key that is never locked again does not stay in memory.
const lockSweepInterval = time.Minute

// lockTable holds the per-connection locks.
type lockTable struct {
	mu        sync.Mutex
	held      map[connKey]*lockEntry
	nextSweep time.Time
}

// lockEntry is one held lock. released is made by the first waiter (an
// uncontended lock needs no channel) and closed exactly once, when the
// entry leaves the table (unlock, takeover after expiry, or sweep), to wake
// the waiters. Both happen under lockTable.mu.
type lockEntry struct {
	t        *lockTable
	key      connKey
	expires  time.Time
	deadline time.Time // as expires: one clock, one process
	released chan struct{}
}

// Deadline implements store.Lease.
func (e *lockEntry) Deadline() time.Time {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	return e.deadline
}

// Renew implements store.Lease: it extends the lock to ttl from now
// while it is still this entry's and has not expired.
func (e *lockEntry) Renew(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("memstore: renew: ttl must be positive")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: renew: %w", err)
	}
	t := e.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.held[e.key] != e || !now.Before(e.expires) {
		return fmt.Errorf("memstore: renew: %w", store.ErrLeaseLost)
	}
	e.expires = now.Add(ttl)
	e.deadline = e.expires
	return nil
}

// Release implements store.Lease: it releases the lock if it is still
// this entry's; later calls, and calls after the lock expired and was
// taken over, do nothing.
func (e *lockEntry) Release() {
	t := e.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held[e.key] == e {
		t.release(e.key, e)
	}
}

// Lock takes the lock for (provider, owner) within this process
// (store.Locker). It blocks until the lock is free, ctx is done (the
// error wraps ctx.Err()), or the current holder's ttl runs out. The lease
// expires by itself after ttl unless renewed; Release ends it early, only
// while it is still this caller's. ttl must be positive.
func (s *Store) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (store.Lease, error) {
	if ttl <= 0 {
		return nil, errors.New("memstore: lock: ttl must be positive")
	}
	key := connKey{provider, owner}
	t := &s.locks
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("memstore: lock: %w", err)
		}
		t.mu.Lock()
		now := time.Now()
		t.sweep(now)
		cur := t.held[key]
		if cur != nil && !now.Before(cur.expires) {
			t.release(key, cur)
			cur = nil
		}
		if cur == nil {
			e := &lockEntry{t: t, key: key, expires: now.Add(ttl), deadline: now.Add(ttl)}
			t.held[key] = e
			t.mu.Unlock()
			return e, nil
		}
		if cur.released == nil {
			cur.released = make(chan struct{})
		}
		released, wait := cur.released, cur.expires.Sub(now)
		t.mu.Unlock()

		timer := time.NewTimer(wait)
		select {
		case <-released:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
}

// release removes e, which must be t.held[key], and wakes its waiters.
// t.mu must be held.
func (t *lockTable) release(key connKey, e *lockEntry) {
	delete(t.held, key)
	if e.released != nil {
		close(e.released)
	}
}

// sweep drops expired entries at most once per lockSweepInterval. t.mu must
// be held.
func (t *lockTable) sweep(now time.Time) {
	if now.Before(t.nextSweep) {
		return
	}
	t.nextSweep = now.Add(lockSweepInterval)
	for key, e := range t.held {
		if !now.Before(e.expires) {
			t.release(key, e)
		}
	}
}
