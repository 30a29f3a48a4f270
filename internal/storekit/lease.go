package storekit

import (
	"context"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// LeaseState is the client-side half of a driver's store.Lease: the
// Deadline, whether the lease is lost, and the serialisation of renewals.
// A driver embeds it (which gives its lease the Deadline method) and
// supplies the store's own statements. The zero value is ready to use;
// its methods are safe for concurrent use.
type LeaseState struct {
	mu sync.Mutex
	// renewing serialises renewals (a semaphore, so that a waiting call
	// still honours its ctx), so that the Deadline of the last successful
	// one matches the last expiry the store wrote. Made on first use.
	renewing chan struct{}
	deadline time.Time
	lost     bool // a renewal found it expired or taken, or it was released
	released bool
}

// Deadline implements store.Lease: the moment the store call that
// acquired or last renewed the lease was sent, plus its ttl, on this
// process's clock.
func (l *LeaseState) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Acquired records the deadline of the call that acquired the lease.
func (l *LeaseState) Acquired(deadline time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deadline = deadline
}

// RenewFunc extends a lease in the store by the renewal's ttl. It reports
// when the statement that did so was sent and whether the store still held
// the lease for this holder (false: it expired or another holder took it).
type RenewFunc func(ctx context.Context) (sent time.Time, held bool, err error)

// Renew runs one renewal of ttl, which the caller has checked is positive,
// after any renewal still under way. It returns ctx.Err() when ctx ends
// first, store.ErrLeaseLost (unwrapped) when the lease was already lost
// or released or renew reports it no longer held (the lease then stays
// lost for good), and renew's error as it is, leaving the lease as it
// was. On success the Deadline moves to sent plus ttl.
func (l *LeaseState) Renew(ctx context.Context, ttl time.Duration, renew RenewFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sem := l.semaphore()
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.isLost() {
		return store.ErrLeaseLost
	}
	sent, held, err := renew(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !held || l.released {
		l.lost = true
		return store.ErrLeaseLost
	}
	l.deadline = sent.Add(ttl)
	return nil
}

// Release marks the lease released, and lost, and reports whether this was
// the first call: only the first one should delete the store's record.
func (l *LeaseState) Release() (first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return false
	}
	l.released, l.lost = true, true
	return true
}

func (l *LeaseState) semaphore() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.renewing == nil {
		l.renewing = make(chan struct{}, 1)
	}
	return l.renewing
}

func (l *LeaseState) isLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}
