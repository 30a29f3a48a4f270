package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// The connection lock, and why one refresh token is sent at most once.
//
// A refresh token may be sent to the provider only by the process that
// holds the connection's lease (store.Locker), and only while that process can
// vouch that the lease is still its own. heldLock enforces both halves:
//
//   - While the holder works, a timer renews the lease every quarter of
//     Config.Tokens.LockTTL. A holder that waits out Retry-After for a minute, or
//     whose save is retried while the store comes back, keeps the lease;
//     a holder that died stops renewing and loses it within LockTTL.
//   - Every provider call made under the lease runs under heldLock.ctx,
//     which is cancelled a safety margin (a tenth of LockTTL) before
//     Deadline when renewals stopped succeeding, and at once when the store
//     says the lease is gone. Deadline counts from the moment the acquiring
//     or renewing call was sent, and the store counts ttl from the moment
//     that call arrived, so the store's expiry is never earlier than ours.
//   - Before each refresh attempt the holder re-reads the record: if the
//     stored refresh token is no longer the one it is about to send, a
//     peer moved on (a lease that expired during a store outage), and the
//     holder stops.
//
// So two processes cannot have the same refresh token in flight, unless a
// request outlives its cancellation by more than the margin in the
// network, or the store loses an acknowledged lease (a Redis failover:
// see the redisstore documentation). What a lease cannot cover is a store
// outage longer than LockTTL while a rotated pair is still unsaved: the
// holder keeps the pair in memory and saves it as soon as the store
// answers, but a peer that takes the expired lease first only knows the
// spent token, and a provider without a grace window then revokes the
// grant. That connection becomes reauth_required, never deleted.

// heldLock is a lease on one connection held by this process, renewed in
// the background until release.
type heldLock struct {
	lease store.Lease // nil: the store has no store.Locker; nothing to vouch for
	ttl   time.Duration
	// ctx is cancelled (cause store.ErrLeaseLost) once the lease can no longer
	// be vouched for. Provider calls under the lease use it.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Renewal runs from a timer, not a goroutine of its own: most leases
	// are released long before their first renewal, and a timer is far
	// cheaper to create and stop than a goroutine (the callback's commit
	// takes a lease on every connect).
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	ticks   sync.WaitGroup // renewals in progress, awaited by release
	once    sync.Once
}

// lockConn takes the store's lease on the owner's connection when the
// store has a store.Locker, waiting at most twice ExchangeTimeout (and no longer
// than ctx), and starts renewing it. Without a store.Locker it returns a lock
// that coordinates nothing: singleflight alone serialises this process.
func (e *engine) lockConn(ctx context.Context, owner string) (*heldLock, error) {
	h := &heldLock{ttl: e.opts.LockTTL}
	h.ctx, h.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	l, ok := store.Capability[store.Locker](e.store)
	if !ok {
		return h, nil
	}
	lctx, cancel := within(ctx, e.opts.ExchangeTimeout*2)
	defer cancel()
	lease, err := l.Lock(lctx, e.provider.Name, owner, e.opts.LockTTL)
	if err != nil {
		h.cancel(err)
		return nil, fmt.Errorf("%w: connection lock: %w", ErrStore, err)
	}
	h.lease = lease
	h.mu.Lock()
	h.timer = time.AfterFunc(h.ttl/4, h.renew)
	h.mu.Unlock()
	return h, nil
}

// margin is how long before Deadline the holder stops vouching for the
// lease: room for a request already sent to reach the provider, and for
// the clocks of this process and the store to run at slightly different
// rates.
func (h *heldLock) margin() time.Duration { return h.ttl / 10 }

// renew is one renewal, run by the timer every LockTTL/4 (sooner after a
// failure, at the last moment it can help) until release or loss.
func (h *heldLock) renew() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.ticks.Add(1)
	h.mu.Unlock()
	defer h.ticks.Done()

	left := time.Until(h.lease.Deadline()) - h.margin()
	if left <= 0 {
		h.cancel(fmt.Errorf("%w: not renewed in time", store.ErrLeaseLost))
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), left)
	err := h.lease.Renew(rctx, h.ttl)
	cancel()
	if errors.Is(err, store.ErrLeaseLost) {
		h.cancel(err)
		return
	}
	// On any other failure the lease still holds until Deadline: try
	// again after the interval, or at the last moment it can help.
	next := h.ttl / 4
	if err != nil {
		next = max(min(next, time.Until(h.lease.Deadline())-h.margin()), 0)
	}
	h.mu.Lock()
	if !h.stopped {
		h.timer.Reset(next)
	}
	h.mu.Unlock()
}

// valid reports whether the lease can still be vouched for.
func (h *heldLock) valid() bool { return h.ctx.Err() == nil }

// release stops renewing and releases the lease. Safe to call more than
// once.
func (h *heldLock) release() {
	h.once.Do(func() {
		h.mu.Lock()
		h.stopped = true
		if h.timer != nil {
			h.timer.Stop()
		}
		h.mu.Unlock()
		h.ticks.Wait()
		if h.lease != nil {
			h.lease.Release()
		}
		h.cancel(context.Canceled)
	})
}
