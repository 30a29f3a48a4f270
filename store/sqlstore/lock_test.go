package sqlstore

import (
	"crypto/rand"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

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
		testutil.CheckExclusive(t, testutil.Context(t), s1, s2, nil)
		assertNoConnInUse(t, db.DB, pool2)
	})
}

func TestLockContextEnds(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s1, db := newTestStore(t, b, nil)
		pool2 := db.reopen(t)
		s2 := newOn(t, pool2, db, nil)
		testutil.CheckContextEnds(t, testutil.Context(t), s1, s2)
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
		ctx := testutil.Context(t)

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

		unlock1.Release() // late: must not release s2's lock
		testutil.AssertLockHeld(t, ctx, s1, "p", "o", 100*time.Millisecond, "the second holder's lock survived the first's unlock")

		unlock2.Release()
		u, err := s1.Lock(ctx, "p", "o", time.Minute)
		require.NoError(t, err)
		u.Release()
		assertNoConnInUse(t, db.DB, pool2)
	})
}

func TestLockPanicAndBadTTL(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		testutil.CheckPanicAndBadTTL(t, testutil.Context(t), s)
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
	ctx := testutil.Context(t)

	unlock1, err := s1.Lock(ctx, "p", "o", time.Hour)
	require.NoError(t, err)
	var killed int
	require.NoError(t, pool2.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&killed))
	require.Positive(t, killed)

	testutil.AssertLockHeld(t, ctx, s2, "p", "o", 300*time.Millisecond, "the lease outlives the killed session")
	require.NoError(t, unlock1.Renew(ctx, time.Hour), "the holder renews over a fresh connection")

	unlock1.Release()
	unlock2, err := s2.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err, "the holder's unlock released it")
	unlock2.Release()
}

// TestLeaseRenewSQLiteClock follows a SQLite lease on Options.Now: Renew
// moves the expiry to ttl from the store's now, a renewed lease outlives
// its first ttl, and a lease renewed too late is lost for good, without
// touching the next holder's lease.
func TestLeaseRenewSQLiteClock(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s1, db := newTestStore(t, backends[0], clk.Now)
	s2 := newOn(t, db.reopen(t), db, clk.Now)
	ctx := testutil.Context(t)
	busy := func(why string) {
		t.Helper()
		testutil.AssertLockHeld(t, ctx, s2, "p", "o", 100*time.Millisecond, why)
	}

	lease1, err := s1.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err)
	clk.Advance(50 * time.Second)
	require.NoError(t, lease1.Renew(ctx, time.Minute))
	clk.Advance(50 * time.Second) // 100 s after the lock: held thanks to the renewal
	busy("a renewed lease outlives its first ttl")
	require.NoError(t, lease1.Renew(ctx, time.Minute), "renewed again before the new expiry")

	clk.Advance(time.Minute) // exactly at the expiry: expired
	assert.ErrorIs(t, lease1.Renew(ctx, time.Minute), store.ErrLeaseLost, "a renewal at the expiry is too late")
	lease2, err := s2.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err, "the expired lease is free")
	assert.ErrorIs(t, lease1.Renew(ctx, time.Hour), store.ErrLeaseLost, "a lost lease stays lost")
	lease1.Release()
	clk.Advance(30 * time.Second)
	require.NoError(t, lease2.Renew(ctx, time.Minute), "the old holder left the new lease alone")
	busy("the old holder's Release did not release the new lease")
	lease2.Release()
	assert.ErrorIs(t, lease2.Renew(ctx, time.Minute), store.ErrLeaseLost, "Renew after Release")
	lease3, err := s1.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err)
	lease3.Release()
}

// TestLeaseRenewPostgresServerClock: the lease row's expiry is the
// server's clock plus the ttl of the last Lock or Renew, shorter ones
// included, and Deadline is never later than it.
func TestLeaseRenewPostgresServerClock(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, backends[1], nil)
	ctx := testutil.Context(t)
	left := func() time.Duration {
		t.Helper()
		var us int64
		require.NoError(t, s.db.QueryRowContext(ctx, s.q.lockRemainingPG, s.bin("p"), s.bin("o")).Scan(&us))
		return time.Duration(us) * time.Microsecond
	}
	before := time.Now()
	lease, err := s.Lock(ctx, "p", "o", time.Hour)
	require.NoError(t, err)
	after := time.Now()
	assert.WithinRange(t, lease.Deadline(), before.Add(time.Hour), after.Add(time.Hour))
	assertBetween(t, left(), time.Hour-10*time.Second, time.Hour, "server-side expiry after Lock")

	for _, ttl := range []time.Duration{2 * time.Hour, time.Minute} {
		before := time.Now()
		require.NoError(t, lease.Renew(ctx, ttl))
		after := time.Now()
		assert.WithinRange(t, lease.Deadline(), before.Add(ttl), after.Add(ttl), "Deadline after Renew(%s)", ttl)
		assertBetween(t, left(), ttl-10*time.Second, ttl, "server-side expiry after Renew(%s)", ttl)
	}
	lease.Release()
	var n int
	require.NoError(t, s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+s.table("locks")).Scan(&n))
	assert.Zero(t, n, "Release deleted the lease row")
}

// assertBetween checks lo <= d <= hi.
func assertBetween(t *testing.T, d, lo, hi time.Duration, msgAndArgs ...any) {
	t.Helper()
	assert.GreaterOrEqual(t, d, lo, msgAndArgs...)
	assert.LessOrEqual(t, d, hi, msgAndArgs...)
}

// TestLeaseRenewErrors: a bad ttl or a done context is an error that
// leaves the lease held, not ErrLeaseLost.
func TestLeaseRenewErrors(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		testutil.CheckRenewErrors(t, testutil.Context(t), s)
		assertNoConnInUse(t, db.DB)
	})
}
