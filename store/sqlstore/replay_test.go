package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
)

func TestConsume(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		clk := newClock()
		s1, db := newTestStore(t, b, clk.Now)
		s2 := newOn(t, db.reopen(t), db, clk.Now)
		ctx := testutil.Context(t)
		consume := func(s *Store, key string, expires time.Time) bool {
			t.Helper()
			first, err := s.Consume(ctx, key, expires)
			require.NoError(t, err)
			return first
		}

		exp := clk.Now().Add(time.Minute)
		assert.True(t, consume(s1, "k", exp))
		assert.False(t, consume(s1, "k", exp), "replay at the same instance")
		assert.False(t, consume(s2, "k", exp), "replay at another instance")
		assert.True(t, consume(s2, "k\x00", exp))

		clk.Advance(2 * time.Minute)
		assert.True(t, consume(s2, "k", clk.Now().Add(time.Minute)), "an expired record is consumable again")
		assert.False(t, consume(s1, "k", clk.Now().Add(time.Minute)))

		past := clk.Now().Add(-time.Second)
		assert.True(t, consume(s1, "past", past))
		assert.True(t, consume(s1, "past", past), "an expiry in the past records nothing")

		const callers = 8
		var wg sync.WaitGroup
		firsts := make([]bool, callers)
		errs := make([]error, callers)
		for i := range callers {
			s := []*Store{s1, s2}[i%2]
			wg.Go(func() { firsts[i], errs[i] = s.Consume(ctx, "race", clk.Now().Add(time.Minute)) })
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

		_, err := s1.Consume(testutil.Canceled(ctx), "x", clk.Now().Add(time.Minute))
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestConsumeSweeps: expired records are deleted by a later Consume (at
// most once per sweepInterval) and by Ping.
func TestConsumeSweeps(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		clk := newClock()
		s, _ := newTestStore(t, b, clk.Now)
		ctx := testutil.Context(t)
		count := func() (n int) {
			t.Helper()
			require.NoError(t, s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.table("consumed_states")).Scan(&n))
			return n
		}
		for _, k := range []string{"a", "b", "c"} {
			_, err := s.Consume(ctx, k, clk.Now().Add(time.Minute))
			require.NoError(t, err)
		}
		assert.Equal(t, 3, count())
		clk.Advance(sweepInterval + time.Minute)
		_, err := s.Consume(ctx, "d", clk.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 1, count(), "the expired records were swept")

		_, err = s.Consume(ctx, "e", clk.Now().Add(time.Second))
		require.NoError(t, err)
		clk.Advance(2 * time.Second)
		require.NoError(t, s.Ping(ctx))
		assert.Equal(t, 1, count(), "Ping swept too")
	})
}

func TestPing(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		require.NoError(t, s.Ping(ctx))
		assert.ErrorIs(t, s.Ping(testutil.Canceled(ctx)), context.Canceled)

		// A read-only database still reads, but Ping reports it unusable.
		ro := newOn(t, db.readOnly(t), db, nil)
		_, err := ro.List(ctx, "o")
		require.NoError(t, err)
		err = ro.Ping(ctx)
		t.Logf("read-only ping: %v", err)
		assert.Error(t, err)
	})
}
