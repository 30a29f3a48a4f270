package storetest

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

const (
	// longTTL is a lock ttl that never runs out during a test.
	longTTL = time.Minute
	// shortTTL is the ttl of locks the suite lets expire.
	shortTTL = 200 * time.Millisecond
	// stillBlocked is how long the suite watches a Lock call that must not
	// return yet. Only a broken store can fail that check; a slow one
	// cannot.
	stillBlocked = 300 * time.Millisecond
	// expirySlack allows for the store's clock granularity (Redis keeps
	// milliseconds) when checking that a lock was not taken over before
	// its ttl ran out, or waiting for it to run out.
	expirySlack = 50 * time.Millisecond
	// renewAttempts bounds how often a lease check that a stalled machine
	// can spoil (a renewal that reached the store only after the lease's
	// Deadline) starts again.
	renewAttempts = 5
)

// waitUntil sleeps until the clock reads at least ts.
func waitUntil(ts time.Time) { time.Sleep(time.Until(ts)) }

// lockWithin takes the lock, failing the test when it is not held within
// waitTimeout.
func lockWithin(t *testing.T, lk store.Locker, provider, owner string, ttl time.Duration) store.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	unlock, err := lk.Lock(ctx, provider, owner, ttl)
	require.NoError(t, err, "Lock(%q, %q) must succeed within %s", provider, owner, waitTimeout)
	require.NotNil(t, unlock, "Lock returned a nil unlock")
	t.Cleanup(unlock.Release) // a failed test must not leave the lock held; unlock is idempotent
	return unlock
}

// assertLockBusy checks that the lock cannot be taken for stillBlocked.
func assertLockBusy(t *testing.T, lk store.Locker, provider, owner, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stillBlocked)
	defer cancel()
	unlock, err := lk.Lock(ctx, provider, owner, longTTL)
	if err == nil {
		unlock.Release()
		assert.Fail(t, "lock taken while it should be held: "+why)
		return
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Lock while the lock is held must wait until ctx ends")
}

// asyncLock starts a Lock call in a goroutine of g; the result arrives on
// the returned channel, which receive reads.
func asyncLock(ctx context.Context, g *group, lk store.Locker, provider, owner string, ttl time.Duration) <-chan lockResult {
	ch := make(chan lockResult, 1)
	g.Go(func() {
		unlock, err := lk.Lock(ctx, provider, owner, ttl)
		ch <- lockResult{unlock, err, time.Now()}
	})
	return ch
}

// lockResult is the outcome of an asyncLock.
type lockResult struct {
	unlock store.Lease
	err    error
	at     time.Time
}

// receive waits for an asyncLock result, failing after waitTimeout. A lock
// it returns is released when the test ends, if the test did not.
func receive(t *testing.T, ch <-chan lockResult, what string) lockResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err == nil {
			t.Cleanup(r.unlock.Release)
		}
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("storetest: %s did not return within %s", what, waitTimeout)
		return lockResult{}
	}
}

func (s suite) testLocker(t *testing.T) {
	if _, ok := s.store(t).(store.Locker); !ok {
		t.Skip("store does not implement store.Locker")
	}
	locker := func(t *testing.T) store.Locker { return s.store(t).(store.Locker) }

	t.Run("MutualExclusion", func(t *testing.T) {
		const (
			goroutines = 4
			rounds     = 3
		)
		lk := locker(t)
		var inside, most, taken atomic.Int32
		errs := make(chan error, goroutines*rounds)
		g := newGroup(t)
		for range goroutines {
			g.Go(func() {
				for range rounds {
					ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
					unlock, err := lk.Lock(ctx, "mollie", "owner-1", longTTL)
					cancel()
					if err != nil {
						errs <- err
						return
					}
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					for range 100 {
						runtime.Gosched() // let the others run inside the critical section
					}
					taken.Add(1)
					inside.Add(-1)
					unlock.Release()
				}
			})
		}
		g.wait("lockers")
		close(errs)
		for err := range errs {
			assert.NoError(t, err, "Lock")
		}
		assert.EqualValues(t, goroutines*rounds, taken.Load())
		assert.EqualValues(t, 1, most.Load(), "goroutines held the lock at the same time")
	})

	t.Run("SecondLockWaitsForUnlock", func(t *testing.T) {
		lk := locker(t)
		unlock := lockWithin(t, lk, "mollie", "owner-1", longTTL)
		g := newGroup(t)
		ch := asyncLock(t.Context(), g, lk, "mollie", "owner-1", longTTL)
		select {
		case r := <-ch:
			if r.err == nil {
				r.unlock.Release()
			}
			t.Fatalf("second Lock returned while the lock was held (err %v)", r.err)
		case <-time.After(stillBlocked):
		}
		unlock.Release()
		r := receive(t, ch, "Lock after unlock")
		assert.NoError(t, r.err, "Lock after the holder unlocked")
	})

	t.Run("CtxEndsWhileWaiting", func(t *testing.T) {
		lk := locker(t)
		unlock := lockWithin(t, lk, "mollie", "owner-1", longTTL)

		g := newGroup(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cancelled := asyncLock(ctx, g, lk, "mollie", "owner-1", longTTL)
		expiring, stop := context.WithTimeout(t.Context(), stillBlocked)
		defer stop()
		timedOut := asyncLock(expiring, g, lk, "mollie", "owner-1", longTTL)

		time.Sleep(stillBlocked / 2) // let the first call start waiting; passes either way
		cancel()
		r := receive(t, cancelled, "Lock after its ctx was cancelled")
		assert.ErrorIs(t, r.err, context.Canceled)
		r = receive(t, timedOut, "Lock after its ctx deadline")
		assert.ErrorIs(t, r.err, context.DeadlineExceeded)

		// The abandoned waits must not hold or wedge the lock.
		unlock.Release()
		lockWithin(t, lk, "mollie", "owner-1", longTTL).Release()
	})

	t.Run("OtherConnectionsIndependent", func(t *testing.T) {
		lk := locker(t)
		defer lockWithin(t, lk, "mollie", "owner-1", longTTL).Release()
		defer lockWithin(t, lk, "a:b", "c", longTTL).Release()
		for _, k := range []struct{ provider, owner string }{
			{"mollie", "owner-2"},
			{"qonto", "owner-1"},
			{"mollie", "owner-1:x"},
			{"mollie", "owner-"},
			{"a", "b:c"},
			{"owner-1", "mollie"},
		} {
			lockWithin(t, lk, k.provider, k.owner, longTTL).Release()
		}
	})

	t.Run("ExpiresAfterTTL", func(t *testing.T) {
		lk := locker(t)
		before := time.Now()
		crashed := lockWithin(t, lk, "mollie", "owner-1", shortTTL) // never unlocked in time

		g := newGroup(t)
		r := receive(t, asyncLock(t.Context(), g, lk, "mollie", "owner-1", longTTL), "Lock after the holder's ttl")
		require.NoError(t, r.err, "the lock must expire after its ttl")
		assert.GreaterOrEqual(t, r.at.Sub(before), shortTTL-expirySlack, "the lock was taken over before its ttl ran out")

		// The first holder's late unlock must not release the new holder.
		crashed.Release()
		assertLockBusy(t, lk, "mollie", "owner-1", "a stale unlock released another holder's lock")
		r.unlock.Release()
		lockWithin(t, lk, "mollie", "owner-1", longTTL).Release()
	})

	s.testLease(t, locker)

	t.Run("UnlockTwice", func(t *testing.T) {
		lk := locker(t)
		unlock := lockWithin(t, lk, "mollie", "owner-1", longTTL)
		unlock.Release()
		unlock.Release()
		again := lockWithin(t, lk, "mollie", "owner-1", longTTL)
		unlock.Release()
		assertLockBusy(t, lk, "mollie", "owner-1", "a repeated unlock released a later holder's lock")
		again.Release()
	})
}
