package oauthlink

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptLease is a store.Lease whose Renew answers renewErr (nil: success, which
// moves Deadline as a store would).
type scriptLease struct {
	mu       sync.Mutex
	deadline time.Time
	renewErr error
	renews   int
	released int
}

func (l *scriptLease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

func (l *scriptLease) Renew(ctx context.Context, ttl time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renews++
	if l.renewErr != nil {
		return l.renewErr
	}
	l.deadline = time.Now().Add(ttl)
	return nil
}

func (l *scriptLease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released++
}

func (l *scriptLease) counts() (renews, released int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renews, l.released
}

func (l *scriptLease) set(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renewErr = err
}

// scriptLocker hands out one scriptLease.
type scriptLocker struct {
	store.TokenStore
	lease *scriptLease
}

func (s scriptLocker) Lock(_ context.Context, _, _ string, ttl time.Duration) (store.Lease, error) {
	s.lease.mu.Lock()
	s.lease.deadline = time.Now().Add(ttl)
	s.lease.mu.Unlock()
	return s.lease, nil
}

func leaseConnector(t *testing.T, l *scriptLease) *Connector {
	t.Helper()
	return &Connector{e: &engine{opts: TokenOptions{LockTTL: 4 * time.Second, ExchangeTimeout: time.Second}, store: scriptLocker{lease: l}}}
}

func TestHeldLockRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &scriptLease{}
		c := leaseConnector(t, l)
		lk, err := c.e.lockConn(t.Context(), "shop-1")
		require.NoError(t, err)
		time.Sleep(60 * time.Second) // fifteen times the lease
		assert.True(t, lk.valid(), "a holder whose renewals succeed keeps the lease")
		renews, _ := l.counts()
		assert.GreaterOrEqual(t, renews, 59, "renewed every LockTTL/4")
		lk.release()
		lk.release()
		_, released := l.counts()
		assert.Equal(t, 1, released, "released once")
		assert.False(t, lk.valid())
	})
}

func TestHeldLockLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &scriptLease{}
		c := leaseConnector(t, l)
		lk, err := c.e.lockConn(t.Context(), "shop-1")
		require.NoError(t, err)
		time.Sleep(3 * time.Second)
		l.set(errors.Join(errors.New("taken"), store.ErrLeaseLost))
		time.Sleep(time.Second + time.Millisecond)
		assert.False(t, lk.valid(), "lost at the first renewal that says so")
		assert.ErrorIs(t, context.Cause(lk.ctx), store.ErrLeaseLost)
		lk.release()
	})
}

// A store that stops answering: the holder vouches for the lease until a
// tenth of LockTTL before the last confirmed Deadline, not a moment longer.
func TestHeldLockStoreDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &scriptLease{}
		c := leaseConnector(t, l)
		lk, err := c.e.lockConn(t.Context(), "shop-1")
		require.NoError(t, err)
		time.Sleep(2 * time.Second) // one renewal at 1 s confirms until 5 s
		l.set(errors.New("connection refused"))
		deadline := l.Deadline()
		time.Sleep(time.Until(deadline) - 400*time.Millisecond - time.Millisecond)
		assert.True(t, lk.valid(), "still vouched for just before Deadline minus the margin")
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		assert.False(t, lk.valid(), "no longer vouched for at Deadline minus the margin")
		assert.ErrorIs(t, context.Cause(lk.ctx), store.ErrLeaseLost)
		lk.release()
	})
}
