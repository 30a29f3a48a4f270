package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockResult struct {
	unlock func()
	err    error
}

// lockAsync calls Lock in a goroutine; the buffered channel receives the
// result. The goroutine ends when Lock does, at the latest when ctx ends.
func lockAsync(ctx context.Context, s *Store, provider, owner string, ttl time.Duration) <-chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		u, err := s.Lock(ctx, provider, owner, ttl)
		ch <- lockResult{u, err}
	}()
	return ch
}

// awaitLock waits (boundedly) for a lockAsync result.
func awaitLock(t *testing.T, ch <-chan lockResult) lockResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("Lock did not return within 20s")
		return lockResult{}
	}
}

// assertStillWaiting checks that a lockAsync call has not acquired the lock
// after a short grace. A correct store never fails this, whatever the
// machine's speed; a broken one is caught unless it is slower than the
// grace.
func assertStillWaiting(t *testing.T, ch <-chan lockResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Errorf("second Lock returned while the lock was held (err %v)", r.err)
		if r.unlock != nil {
			r.unlock()
		}
	case <-time.After(150 * time.Millisecond):
	}
}

func assertNoConnInUse(t *testing.T, pools ...*sql.DB) {
	t.Helper()
	for i, db := range pools {
		assert.Zero(t, db.Stats().InUse, "pool %d has connections in use", i)
	}
}

func TestLockExclusiveAcrossPools(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s1, db := newTestStore(t, b, nil)
		pool2 := db.reopen(t)
		s2 := newOn(t, pool2, db, nil)
		ctx := testContext(t)

		unlock1, err := s1.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err)
		// Other keys, including the same strings swapped, are free.
		for _, k := range [][2]string{{"q", "o"}, {"o", "p"}, {"p", "o\x00"}} {
			u, err := s2.Lock(ctx, k[0], k[1], time.Minute)
			require.NoError(t, err, "key %q", k)
			u()
		}

		ch := lockAsync(ctx, s2, "p", "o", time.Minute)
		assertStillWaiting(t, ch)
		unlock1()
		r := awaitLock(t, ch)
		require.NoError(t, r.err)
		r.unlock()
		r.unlock() // idempotent
		unlock1()
		assertNoConnInUse(t, db.DB, pool2)
	})
}

func TestLockContextEnds(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s1, db := newTestStore(t, b, nil)
		pool2 := db.reopen(t)
		s2 := newOn(t, pool2, db, nil)
		ctx := testContext(t)

		unlock1, err := s1.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err)

		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err = s2.Lock(dctx, "p", "o", time.Minute)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		cctx, cancel := context.WithCancel(ctx)
		ch := lockAsync(cctx, s2, "p", "o", time.Minute)
		assertStillWaiting(t, ch)
		cancel()
		r := awaitLock(t, ch)
		assert.ErrorIs(t, r.err, context.Canceled)
		assert.Nil(t, r.unlock)

		_, err = s2.Lock(cctx, "p", "o", time.Minute)
		assert.ErrorIs(t, err, context.Canceled, "a done context fails at once")

		// The abandoned waits hold nothing: after the holder unlocks, the
		// lock is free.
		unlock1()
		u, err := s2.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err)
		u()
		assertNoConnInUse(t, db.DB, pool2)
	})
}

// TestLockExpires: a holder that never unlocks loses the lock after ttl,
// and its late unlock does not release the next holder's lock.
func TestLockExpires(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		clk := newClock()
		s1, db := newTestStore(t, b, clk.Now)
		pool2 := db.reopen(t)
		s2 := newOn(t, pool2, db, clk.Now)
		ctx := testContext(t)

		// SQLite leases follow Options.Now; PostgreSQL's lock ends with its
		// transaction, on real time.
		ttl := time.Minute
		if b.name == "postgres" {
			ttl = 300 * time.Millisecond
		}
		unlock1, err := s1.Lock(ctx, "p", "o", ttl)
		require.NoError(t, err)
		clk.Advance(2 * ttl)
		unlock2, err := s2.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err)

		unlock1() // late: must not release s2's lock
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err = s1.Lock(dctx, "p", "o", time.Minute)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the second holder's lock survived the first's unlock")

		unlock2()
		u, err := s1.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err)
		u()
		assertNoConnInUse(t, db.DB, pool2)
	})
}

func TestLockPanicAndBadTTL(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		ctx := testContext(t)
		func() {
			defer func() { assert.Equal(t, "boom", recover()) }()
			unlock, err := s.Lock(ctx, "p", "o", time.Minute)
			require.NoError(t, err)
			defer unlock()
			panic("boom")
		}()
		u, err := s.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err, "the panicking holder released the lock")
		u()

		for _, ttl := range []time.Duration{0, -time.Second} {
			_, err := s.Lock(ctx, "p", "o", ttl)
			assert.Error(t, err, "ttl %v", ttl)
		}
		assertNoConnInUse(t, db.DB)
	})
}

// TestLockHolderConnectionDies: when the holder's session is killed (a
// failover, a pooler restart, pg_terminate_backend) the lease survives: a
// waiter must not take the lock while the holder may still be about to save
// a rotated refresh token. The holder's unlock still releases it, over a
// fresh connection.
func TestLockHolderConnectionDies(t *testing.T) {
	t.Parallel()
	db := backends[1].open(t)
	app := "oauthlink_holder_" + strings.ToLower(rand.Text()[:8])
	pool1 := openPostgres(t, "application_name="+app)
	s1 := newOn(t, pool1, db, nil)
	pool2 := db.reopen(t)
	s2 := newOn(t, pool2, db, nil)
	ctx := testContext(t)

	unlock1, err := s1.Lock(ctx, "p", "o", time.Hour)
	require.NoError(t, err)
	var killed int
	require.NoError(t, pool2.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&killed))
	require.Positive(t, killed)

	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = s2.Lock(wctx, "p", "o", time.Minute)
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the lease outlives the killed session")

	unlock1()
	unlock2, err := s2.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err, "the holder's unlock released it")
	unlock2()
}
