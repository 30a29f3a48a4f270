package redisstore

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

func TestLockExclusiveAcrossClients(t *testing.T) {
	t.Parallel()
	s1, c := newTestStore(t, Options{})
	s2 := secondInstance(t, s1)
	ctx := testutil.Context(t)
	testutil.CheckExclusive(t, ctx, s1, s2, func() {
		pttl := c.PTTL(ctx, s1.lockKey("p", "o")).Val()
		assert.True(t, pttl > 0 && pttl <= time.Minute, "the lock key expires (PTTL %v)", pttl)
	})
	assert.Empty(t, scanKeys(t, ctx, c, s1.prefix), "unlock deleted the lock key")
}

func TestLockContextEnds(t *testing.T) {
	t.Parallel()
	s1, _ := newTestStore(t, Options{})
	testutil.CheckContextEnds(t, testutil.Context(t), s1, secondInstance(t, s1))
}

// TestLockExpires: a holder that never unlocks loses the lock after ttl,
// and its late unlock does not release the next holder's lock.
func TestLockExpires(t *testing.T) {
	t.Parallel()
	s1, _ := newTestStore(t, Options{})
	s2 := secondInstance(t, s1)
	ctx := testutil.Context(t)

	unlock1, err := s1.Lock(ctx, "p", "o", 200*time.Millisecond)
	require.NoError(t, err)
	unlock2, err := s2.Lock(ctx, "p", "o", time.Minute) // waits for the expiry
	require.NoError(t, err)
	unlock1.Release()
	testutil.AssertLockHeld(t, ctx, s1, "p", "o", 100*time.Millisecond, "the second holder's lock survived the first's unlock")
	unlock2.Release()
	u, err := s1.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err)
	u.Release()
}

func TestLockPanicAndBadTTL(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	testutil.CheckPanicAndBadTTL(t, ctx, s)
	u, err := s.Lock(ctx, "p", "o", time.Microsecond) // rounded up to 1 ms
	require.NoError(t, err)
	u.Release()
}

func TestConsume(t *testing.T) {
	t.Parallel()
	s1, c := newTestStore(t, Options{})
	s2 := secondInstance(t, s1)
	ctx := testutil.Context(t)
	consume := func(s *Store, key string, expires time.Time) bool {
		t.Helper()
		first, err := s.Consume(ctx, key, expires)
		require.NoError(t, err)
		return first
	}
	exp := time.Now().Add(time.Minute)
	assert.True(t, consume(s1, "k", exp))
	assert.False(t, consume(s1, "k", exp), "replay at the same instance")
	assert.False(t, consume(s2, "k", exp), "replay at another instance")
	assert.True(t, consume(s2, "k:x", exp))
	pttl := c.PTTL(ctx, s1.stateKey("k")).Val()
	assert.True(t, pttl > 0 && pttl <= time.Minute, "the record expires with the state (PTTL %v)", pttl)

	past := time.Now().Add(-time.Second)
	assert.True(t, consume(s1, "past", past))
	assert.True(t, consume(s1, "past", past), "an expiry in the past records nothing")
	assert.Zero(t, c.Exists(ctx, s1.stateKey("past")).Val())

	const callers = 8
	var wg sync.WaitGroup
	firsts := make([]bool, callers)
	errs := make([]error, callers)
	for i := range callers {
		s := []*Store{s1, s2}[i%2]
		wg.Go(func() { firsts[i], errs[i] = s.Consume(ctx, "race", exp) })
	}
	wg.Wait()
	n := 0
	for i := range callers {
		require.NoError(t, errs[i])
		if firsts[i] {
			n++
		}
	}
	assert.Equal(t, 1, n, "exactly one concurrent caller is first")

	// A record is consumable again once it expired. Redis expires it on
	// its own clock: poll, boundedly.
	assert.True(t, consume(s1, "short", time.Now().Add(50*time.Millisecond)))
	deadline := time.Now().Add(10 * time.Second)
	for !consume(s2, "short", time.Now().Add(time.Minute)) {
		require.True(t, time.Now().Before(deadline), "the record did not expire within 10s")
		time.Sleep(20 * time.Millisecond)
	}

	_, err := s1.Consume(testutil.Canceled(ctx), "x", exp)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPing(t *testing.T) {
	t.Parallel()
	s, c := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	require.NoError(t, s.Ping(ctx))
	pttl := c.PTTL(ctx, s.prefix+"ping").Val()
	assert.True(t, pttl > 0 && pttl <= pingTTL, "Ping wrote its key with a TTL (PTTL %v)", pttl)
	assert.ErrorIs(t, s.Ping(testutil.Canceled(ctx)), context.Canceled)

	down, err := New(newDownClient(t), Options{AllowVolatile: true})
	require.NoError(t, err)
	assert.Error(t, down.Ping(ctx))
}

// TestLeaseRenew: Renew sets the key's PX to the new ttl (longer or
// shorter), Deadline follows, and a lease whose key expired or holds a
// successor's value is lost for good, leaving the successor's key and its
// expiry alone.
func TestLeaseRenew(t *testing.T) {
	t.Parallel()
	s1, c := newTestStore(t, Options{})
	s2 := secondInstance(t, s1)
	ctx := testutil.Context(t)
	key := s1.lockKey("p", "o")

	before := time.Now()
	lease1, err := s1.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err)
	after := time.Now()
	assert.WithinRange(t, lease1.Deadline(), before.Add(time.Minute), after.Add(time.Minute))
	for _, ttl := range []time.Duration{time.Hour, 2 * time.Minute} {
		before := time.Now()
		require.NoError(t, lease1.Renew(ctx, ttl))
		after := time.Now()
		assert.WithinRange(t, lease1.Deadline(), before.Add(ttl), after.Add(ttl), "Deadline after Renew(%s)", ttl)
		pttl := c.PTTL(ctx, key).Val()
		assert.True(t, pttl > ttl-10*time.Second && pttl <= ttl, "PTTL %v after Renew(%s)", pttl, ttl)
	}

	// Let the key expire (Redis's clock), then the renewal is refused.
	require.NoError(t, lease1.Renew(ctx, 50*time.Millisecond))
	deadline := time.Now().Add(10 * time.Second)
	for c.Exists(ctx, key).Val() == 1 {
		require.True(t, time.Now().Before(deadline), "the key did not expire within 10s")
		time.Sleep(10 * time.Millisecond)
	}
	assert.ErrorIs(t, lease1.Renew(ctx, time.Hour), store.ErrLeaseLost)
	assert.Zero(t, c.Exists(ctx, key).Val(), "a refused renewal does not bring the key back")

	lease2, err := s2.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err)
	assert.ErrorIs(t, lease1.Renew(ctx, time.Hour), store.ErrLeaseLost, "a lost lease stays lost")
	lease1.Release()
	pttl := c.PTTL(ctx, key).Val()
	assert.True(t, pttl > 0 && pttl <= time.Minute, "the successor's key keeps its own expiry (PTTL %v)", pttl)
	require.NoError(t, lease2.Renew(ctx, time.Minute), "the successor still holds its lease")
	lease2.Release()
	assert.Zero(t, c.Exists(ctx, key).Val(), "Release deleted the key")
	assert.ErrorIs(t, lease2.Renew(ctx, time.Minute), store.ErrLeaseLost, "Renew after Release")
	assert.Zero(t, c.Exists(ctx, key).Val(), "Renew after Release does not bring the key back")
}

// TestLeaseRenewErrors: a bad ttl, a done context or an unreachable server
// is an error that leaves the lease as it was, not ErrLeaseLost.
func TestLeaseRenewErrors(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	testutil.CheckRenewErrors(t, ctx, s)

	down, err := New(newDownClient(t), Options{AllowVolatile: true})
	require.NoError(t, err)
	offline := &lease{s: down, key: down.lockKey("p", "o"), value: "v"}
	err = offline.Renew(ctx, time.Minute)
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrLeaseLost, "an unreachable server is not a lost lease")
	offline.Release() // best effort: returns
}

// TestLockReplyLost: go-redis sends a command again when its connection
// fails before the reply arrives. When the lost reply was that of a
// successful acquire, the second attempt finds the key already holding
// this caller's value; Lock must take that as acquired (and set the ttl
// afresh), not wait for its own lock to expire.
func TestLockReplyLost(t *testing.T) {
	t.Parallel()
	admin := newClient(t)
	prefix := testPrefix(t, admin)
	key := prefix + "lock:{o}:p"
	c, proxy := proxiedClient(t, func(args []string) bool { return slices.Contains(args, key) })
	s, err := New(c, Options{Prefix: prefix, AllowVolatile: true})
	require.NoError(t, err)
	require.Equal(t, key, s.lockKey("p", "o"))

	ctx, cancel := context.WithTimeout(testutil.Context(t), 5*time.Second)
	defer cancel()
	held, err := s.Lock(ctx, "p", "o", time.Minute)
	require.NoError(t, err, "Lock waited for the lock it had taken itself")
	require.EqualValues(t, 1, proxy.dropped.Load(), "the acquire's reply was lost once")
	assert.Equal(t, held.(*lease).value, admin.Get(ctx, key).Val(), "the key holds this lease's value")
	pttl := admin.PTTL(ctx, key).Val()
	assert.True(t, pttl > 50*time.Second && pttl <= time.Minute, "PTTL %v", pttl)
	held.Release()
	assert.Zero(t, admin.Exists(ctx, key).Val(), "Release deleted the key")
}

// TestConsumeReplyLost: as TestLockReplyLost for the replay guard. When
// the reply to the call that recorded a state is lost and go-redis sends
// it again, that call is still the first: the callback it serves is not a
// replay, and Consume must not refuse it.
func TestConsumeReplyLost(t *testing.T) {
	t.Parallel()
	admin := newClient(t)
	prefix := testPrefix(t, admin)
	key := prefix + "state:k"
	c, proxy := proxiedClient(t, func(args []string) bool { return slices.Contains(args, key) })
	s, err := New(c, Options{Prefix: prefix, AllowVolatile: true})
	require.NoError(t, err)
	require.Equal(t, key, s.stateKey("k"))

	ctx := testutil.Context(t)
	first, err := s.Consume(ctx, "k", time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.EqualValues(t, 1, proxy.dropped.Load(), "the record's reply was lost once")
	assert.True(t, first, "the call that recorded the state is the first")
	pttl := admin.PTTL(ctx, key).Val()
	assert.True(t, pttl > 50*time.Second && pttl <= time.Minute, "PTTL %v", pttl)

	again, err := s.Consume(ctx, "k", time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, again, "a second call is a replay")
}
