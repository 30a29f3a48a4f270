package testutil

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// LockResult is what one store.Locker.Lock call returned.
type LockResult struct {
	Lease store.Lease
	Err   error
}

// LockAsync calls l.Lock in a goroutine; the buffered channel receives the
// result. The goroutine ends when Lock does, at the latest when ctx ends.
func LockAsync(ctx context.Context, l store.Locker, provider, owner string, ttl time.Duration) <-chan LockResult {
	ch := make(chan LockResult, 1)
	go func() {
		lease, err := l.Lock(ctx, provider, owner, ttl)
		ch <- LockResult{lease, err}
	}()
	return ch
}

// AwaitTimeout bounds AwaitLock.
const AwaitTimeout = 20 * time.Second

// AwaitLock waits, at most AwaitTimeout, for a LockAsync result.
func AwaitLock(t testing.TB, ch <-chan LockResult) LockResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(AwaitTimeout):
		t.Fatalf("Lock did not return within %s", AwaitTimeout)
		return LockResult{}
	}
}

// StillWaitingGrace is how long AssertStillWaiting watches.
const StillWaitingGrace = 150 * time.Millisecond

// AssertStillWaiting checks that a LockAsync call has not acquired the
// lock after a short grace. A correct store never fails this, whatever the
// machine's speed; a broken one is caught unless it is slower than the
// grace.
func AssertStillWaiting(t testing.TB, ch <-chan LockResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Errorf("second Lock returned while the lock was held (err %v)", r.Err)
		if r.Lease != nil {
			r.Lease.Release()
		}
	case <-time.After(StillWaitingGrace):
	}
}

// AssertLockHeld checks that someone holds the lock for (provider,
// owner): a Lock through l waits for wait and ends with
// context.DeadlineExceeded. why says what holds it.
func AssertLockHeld(t testing.TB, ctx context.Context, l store.Locker, provider, owner string, wait time.Duration, why string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lease, err := l.Lock(wctx, provider, owner, time.Minute)
	if lease != nil {
		lease.Release()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock(%q, %q) got error %v, want context.DeadlineExceeded: %s", provider, owner, err, why)
	}
}
