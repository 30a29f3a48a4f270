package testutil

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// The checks below are the lock scenarios every driver's own tests run
// across two instances (two pools, two clients) of one backend, on the
// key ("p", "o"). storetest.Run checks a single instance.

// CheckExclusive checks that a lock held through l1 leaves other keys free
// through l2 (the same strings swapped and a NUL-suffixed owner
// included), makes a Lock through l2 wait, and passes to it on Release;
// Release is idempotent. whileHeld, when not nil, runs while l1 holds the
// lock, for checks of the driver's own.
func CheckExclusive(t testing.TB, ctx context.Context, l1, l2 store.Locker, whileHeld func()) {
	t.Helper()
	held := mustLock(t, ctx, l1, "p", "o")
	if whileHeld != nil {
		whileHeld()
	}
	for _, k := range [][2]string{{"q", "o"}, {"o", "p"}, {"p", "o\x00"}} {
		mustLock(t, ctx, l2, k[0], k[1]).Release()
	}
	ch := LockAsync(ctx, l2, "p", "o", time.Minute)
	AssertStillWaiting(t, ch)
	held.Release()
	r := AwaitLock(t, ch)
	if r.Err != nil {
		t.Fatalf("Lock after the holder released: %v", r.Err)
	}
	r.Lease.Release()
	r.Lease.Release() // idempotent
	held.Release()
}

// CheckContextEnds checks that a Lock through l2 waiting for l1's lock
// ends with its ctx (deadline or cancel) without a lease, that a done ctx
// fails at once, and that the abandoned waits hold nothing: once l1
// releases, the lock is free.
func CheckContextEnds(t testing.TB, ctx context.Context, l1, l2 store.Locker) {
	t.Helper()
	held := mustLock(t, ctx, l1, "p", "o")
	AssertLockHeld(t, ctx, l2, "p", "o", 100*time.Millisecond, "the first holder keeps the lock")

	cctx, cancel := context.WithCancel(ctx)
	ch := LockAsync(cctx, l2, "p", "o", time.Minute)
	AssertStillWaiting(t, ch)
	cancel()
	if r := AwaitLock(t, ch); !errors.Is(r.Err, context.Canceled) || r.Lease != nil {
		t.Errorf("a cancelled wait: got %v, %v; want context.Canceled and no lease", r.Lease, r.Err)
	}
	if _, err := l2.Lock(cctx, "p", "o", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("a done context fails at once: got %v", err)
	}
	held.Release()
	mustLock(t, ctx, l2, "p", "o").Release()
}

// CheckPanicAndBadTTL checks that a holder that panics releases the lock
// through its deferred Release, and that Lock refuses a ttl that is not
// positive.
func CheckPanicAndBadTTL(t testing.TB, ctx context.Context, l store.Locker) {
	t.Helper()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		held := mustLock(t, ctx, l, "p", "o")
		defer held.Release()
		panic("boom")
	}()
	mustLock(t, ctx, l, "p", "o").Release() // the panicking holder released it
	for _, ttl := range []time.Duration{0, -time.Second} {
		if lease, err := l.Lock(ctx, "p", "o", ttl); err == nil {
			lease.Release()
			t.Errorf("Lock with ttl %v: no error", ttl)
		}
	}
}

// CheckRenewErrors checks that a Renew with a bad ttl or a done context is
// an error, not store.ErrLeaseLost, that leaves the lease and its Deadline
// as they were: a later Renew succeeds and moves the Deadline.
func CheckRenewErrors(t testing.TB, ctx context.Context, l store.Locker) {
	t.Helper()
	lease := mustLock(t, ctx, l, "p", "o")
	defer lease.Release()
	deadline := lease.Deadline()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := lease.Renew(ctx, ttl); err == nil || errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("Renew with ttl %v: got %v, want an error other than ErrLeaseLost", ttl, err)
		}
	}
	if err := lease.Renew(Canceled(ctx), time.Minute); !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Renew with a done context: got %v, want context.Canceled, not ErrLeaseLost", err)
	}
	if got := lease.Deadline(); !got.Equal(deadline) {
		t.Errorf("a failed Renew moved Deadline from %v to %v", deadline, got)
	}
	if err := lease.Renew(ctx, time.Minute); err != nil {
		t.Fatalf("the lease is still held: Renew: %v", err)
	}
	if !lease.Deadline().After(deadline) {
		t.Errorf("Renew did not move Deadline past %v", deadline)
	}
}

// mustLock takes the lock for (provider, owner) for a minute, or ends the
// test.
func mustLock(t testing.TB, ctx context.Context, l store.Locker, provider, owner string) store.Lease {
	t.Helper()
	lease, err := l.Lock(ctx, provider, owner, time.Minute)
	if err != nil {
		t.Fatalf("Lock(%q, %q): %v", provider, owner, err)
	}
	return lease
}
