package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

// testLease checks the store.Lease that Lock returns: Deadline,
// renewal, and that a lease once lost (expired, taken, released) stays
// lost and never touches its successor.
func (s suite) testLease(t *testing.T, locker func(t *testing.T) store.Locker) {
	t.Run("LeaseDeadline", func(t *testing.T) {
		lk := locker(t)
		before := time.Now()
		lease := lockWithin(t, lk, "mollie", "owner-1", longTTL)
		after := time.Now()
		assert.WithinRange(t, lease.Deadline(), before.Add(longTTL), after.Add(longTTL),
			"Deadline after Lock must be when the lock was sent plus its ttl")
		renewHeld(t, lease, 2*longTTL)
		renewHeld(t, lease, longTTL) // a shorter ttl moves Deadline back
	})
	t.Run("RenewExtends", func(t *testing.T) { testRenewExtends(t, locker(t)) })
	testLeaseLost(t, locker)
	t.Run("ConcurrentUse", func(t *testing.T) { testLeaseConcurrentUse(t, locker(t)) })
}

// testRenewExtends checks that renewals keep a lock from expiring: a
// waiter gets it only once the renewed lease is released.
func testRenewExtends(t *testing.T, lk store.Locker) {
	g := newGroup(t)
	for attempt := 1; ; attempt++ {
		require.LessOrEqual(t, attempt, renewAttempts, "every attempt stalled past the lease's Deadline")
		owner := fmt.Sprintf("owner-%d", attempt)
		lease := lockWithin(t, lk, "mollie", owner, shortTTL)
		locked := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		waiter := asyncLock(ctx, g, lk, "mollie", owner, longTTL)

		// Renew with the short ttl every quarter of it, as the
		// Connector does, for twice the ttl: the waiter must not get
		// the lock. Then once with a long ttl.
		held := true
		for held && time.Since(locked) < 2*shortTTL+expirySlack {
			time.Sleep(shortTTL / 4)
			held = renewHeld(t, lease, shortTTL)
		}
		held = held && renewHeld(t, lease, longTTL)
		if !held {
			cancel()
			receive(t, waiter, "Lock after its ctx was cancelled")
			continue
		}
		select {
		case r := <-waiter:
			if r.err == nil {
				r.unlock.Release()
			}
			t.Fatalf("another Lock took the lock while its holder renewed it (err %v)", r.err)
		default:
		}
		// Past the expiry of the first ttl and of every short
		// renewal: only the long renewal holds the lock now.
		assertLockBusy(t, lk, "mollie", owner, "a lock renewed with a long ttl was taken before that ttl")
		lease.Release()
		r := receive(t, waiter, "Lock after the renewed lease was released")
		assert.NoError(t, r.err, "Lock after the renewed lease was released")
		return
	}
}

// testLeaseLost checks that a lease lost by expiry, takeover or Release
// cannot be renewed, stays lost, and never frees its successor's lock.
func testLeaseLost(t *testing.T, locker func(t *testing.T) store.Locker) {
	t.Run("RenewAfterExpiry", func(t *testing.T) {
		lk := locker(t)
		lease := lockWithin(t, lk, "mollie", "owner-1", shortTTL)
		// The store received the Lock before it answered, so its expiry
		// is at most shortTTL after the answer.
		waitUntil(time.Now().Add(shortTTL + expirySlack))
		ctx := testContext(t)
		if !assert.ErrorIs(t, lease.Renew(ctx, longTTL), store.ErrLeaseLost, "Renew after the lease expired") {
			return
		}
		assert.ErrorIs(t, lease.Renew(ctx, longTTL), store.ErrLeaseLost, "a lost lease stays lost")
		// The refused renewal did not take the lock back.
		lockWithin(t, lk, "mollie", "owner-1", longTTL).Release()
	})

	t.Run("RenewAfterTakeover", func(t *testing.T) {
		lk := locker(t)
		old := lockWithin(t, lk, "mollie", "owner-1", shortTTL)
		g := newGroup(t)
		r := receive(t, asyncLock(t.Context(), g, lk, "mollie", "owner-1", longTTL), "Lock after the holder's ttl")
		require.NoError(t, r.err, "the lock must expire after its ttl")
		successor := r.unlock

		ctx := testContext(t)
		if !assert.ErrorIs(t, old.Renew(ctx, longTTL), store.ErrLeaseLost, "Renew of a lease another holder took") {
			return
		}
		assert.ErrorIs(t, old.Renew(ctx, longTTL), store.ErrLeaseLost, "a lost lease stays lost")
		old.Release()
		assertLockBusy(t, lk, "mollie", "owner-1", "the old holder's Renew or Release freed its successor's lock")
		assert.True(t, renewHeld(t, successor, longTTL), "the successor's lease must still be held")
		successor.Release()
		lockWithin(t, lk, "mollie", "owner-1", longTTL).Release()
	})

	t.Run("RenewAfterRelease", func(t *testing.T) {
		lk := locker(t)
		lease := lockWithin(t, lk, "mollie", "owner-1", longTTL)
		lease.Release()
		ctx := testContext(t)
		if !assert.ErrorIs(t, lease.Renew(ctx, longTTL), store.ErrLeaseLost, "Renew after Release") {
			return
		}
		next := lockWithin(t, lk, "mollie", "owner-1", longTTL) // the released lock is free
		assert.ErrorIs(t, lease.Renew(ctx, longTTL), store.ErrLeaseLost, "Renew after Release, with another holder")
		lease.Release()
		assertLockBusy(t, lk, "mollie", "owner-1", "a released lease's Renew or Release freed the next holder's lock")
		next.Release()
	})
}

// testLeaseConcurrentUse checks that a lease's Renew, Deadline and Release
// may be called from several goroutines at once.
func testLeaseConcurrentUse(t *testing.T, lk store.Locker) {
	const goroutines, rounds = 4, 5
	lease := lockWithin(t, lk, "mollie", "owner-1", longTTL)
	errs := make(chan error, goroutines*rounds)
	g := newGroup(t)
	for range goroutines {
		g.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			for range rounds {
				errs <- lease.Renew(ctx, longTTL)
				_ = lease.Deadline()
			}
		})
	}
	g.wait("concurrent renewals")
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "Renew")
	}
	assert.True(t, lease.Deadline().After(time.Now().Add(longTTL/2)), "Deadline after the renewals")
	assertLockBusy(t, lk, "mollie", "owner-1", "concurrent renewals released the lock")
	for range 2 {
		g.Go(lease.Release)
	}
	g.wait("concurrent releases")
	lockWithin(t, lk, "mollie", "owner-1", longTTL).Release()
}

// renewHeld renews lease with ttl and checks Deadline: on success it is
// the moment the call was sent plus ttl, so between the test's readings of
// the clock before and after the call, plus ttl. A store that reports the
// lease lost although the call returned before the lease's Deadline fails
// the test: the lease was certainly held when the call reached the store.
// renewHeld returns false, without failing, when Renew reported the lease
// lost after its Deadline: the test machine stalled and the lease may
// have expired by right.
func renewHeld(t *testing.T, lease store.Lease, ttl time.Duration) bool {
	t.Helper()
	deadline := lease.Deadline()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	before := time.Now()
	err := lease.Renew(ctx, ttl)
	after := time.Now()
	if err == nil {
		assert.WithinRange(t, lease.Deadline(), before.Add(ttl), after.Add(ttl),
			"Deadline after Renew(%s) must be when the renewal was sent plus its ttl", ttl)
		return true
	}
	if errors.Is(err, store.ErrLeaseLost) && !after.Before(deadline) {
		t.Logf("Renew returned %s after the lease's Deadline (a stalled machine?): starting again", after.Sub(deadline))
		return false
	}
	require.NoError(t, err, "Renew of a lease that was certainly held (the call returned %s before its Deadline)", deadline.Sub(after))
	return false
}
