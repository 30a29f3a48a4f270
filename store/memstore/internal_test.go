package memstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

func (s *Store) stateCount() int { return s.guard.Len() }

func (s *Store) lockCount() int {
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	return len(s.locks.held)
}

func TestMaxStatesDefault(t *testing.T) {
	for _, n := range []int{0, -1} {
		assert.Equal(t, DefaultMaxStates, NewWithOptions(Options{MaxStates: n}).maxStates, "MaxStates %d", n)
	}
	assert.Equal(t, DefaultMaxStates, New().maxStates)
	assert.Equal(t, 7, NewWithOptions(Options{MaxStates: 7}).maxStates)
}

func TestConsumeSweepsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		ctx := t.Context()
		for i := range 100 {
			first, err := s.Consume(ctx, fmt.Sprint("early-", i), time.Now().Add(time.Minute))
			require.NoError(t, err)
			require.True(t, first)
		}
		for i := range 100 {
			_, err := s.Consume(ctx, fmt.Sprint("late-", i), time.Now().Add(10*time.Minute))
			require.NoError(t, err)
		}
		require.Equal(t, 200, s.stateCount())

		time.Sleep(time.Minute) // the early ones expire exactly now
		first, err := s.Consume(ctx, "new", time.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, first)
		assert.Equal(t, 101, s.stateCount(), "expired states must be swept")

		first, err = s.Consume(ctx, "early-0", time.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, first, "an expired state is accepted again")
		first, err = s.Consume(ctx, "late-0", time.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.False(t, first, "an unexpired state is still a replay")
	})
}

func TestConsumeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewWithOptions(Options{MaxStates: 3})
		ctx := t.Context()
		consume := func(key string, ttl time.Duration) (bool, error) {
			return s.Consume(ctx, key, time.Now().Add(ttl))
		}
		for _, k := range []string{"a", "b"} {
			first, err := consume(k, 10*time.Minute)
			require.NoError(t, err)
			require.True(t, first)
		}
		first, err := consume("c", time.Minute)
		require.NoError(t, err)
		require.True(t, first)

		first, err = consume("d", time.Minute)
		assert.ErrorIs(t, err, ErrTooManyStates, "a full guard refuses new states")
		assert.False(t, first)
		assert.Equal(t, 3, s.stateCount(), "a full guard does not grow")

		first, err = consume("a", time.Minute)
		assert.NoError(t, err, "a replay is still recognised when the guard is full")
		assert.False(t, first)

		first, err = consume("past", -time.Second)
		assert.NoError(t, err, "an already expired state takes no room")
		assert.True(t, first)

		time.Sleep(time.Minute) // "c" expires
		first, err = consume("d", time.Minute)
		assert.NoError(t, err, "room is made by sweeping expired states")
		assert.True(t, first)
		_, err = consume("e", time.Minute)
		assert.ErrorIs(t, err, ErrTooManyStates)
	})
}

func TestConsumePastExpiryRecordsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		for range 2 {
			first, err := s.Consume(t.Context(), "k", time.Now())
			require.NoError(t, err)
			assert.True(t, first)
		}
		assert.Zero(t, s.stateCount())
	})
}

func TestLockExpiresAtTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		start := time.Now()
		_, err := s.Lock(t.Context(), "mollie", "owner-1", time.Minute) // never unlocked
		require.NoError(t, err)

		got := make(chan time.Time, 1)
		go func() {
			unlock, err := s.Lock(t.Context(), "mollie", "owner-1", time.Minute)
			if assert.NoError(t, err) {
				unlock.Release()
			}
			got <- time.Now()
		}()
		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("lock taken over before its ttl ran out")
		default:
		}
		assert.Equal(t, time.Minute, (<-got).Sub(start), "the waiter takes the lock when the ttl runs out")
	})
}

func TestLockWaiterWakesOnUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		unlock, err := s.Lock(t.Context(), "mollie", "owner-1", time.Hour)
		require.NoError(t, err)
		got := make(chan time.Duration, 1)
		go func() {
			start := time.Now()
			unlock2, err := s.Lock(t.Context(), "mollie", "owner-1", time.Hour)
			if assert.NoError(t, err) {
				unlock2.Release()
			}
			got <- time.Since(start)
		}()
		time.Sleep(time.Second)
		unlock.Release()
		assert.Equal(t, time.Second, <-got, "the waiter wakes as soon as the lock is released")
	})
}

func TestLockCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		_, err := s.Lock(t.Context(), "mollie", "owner-1", time.Hour)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = s.Lock(ctx, "mollie", "owner-1", time.Hour)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestLockSweepsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		for i := range 10 {
			_, err := s.Lock(t.Context(), "mollie", fmt.Sprint("crashed-", i), time.Second)
			require.NoError(t, err)
		}
		require.Equal(t, 10, s.lockCount())
		time.Sleep(lockSweepInterval)
		unlock, err := s.Lock(t.Context(), "qonto", "owner-1", time.Second)
		require.NoError(t, err)
		assert.Equal(t, 1, s.lockCount(), "expired locks must be swept")
		unlock.Release()
		assert.Zero(t, s.lockCount())
	})
}

func TestLockTTLMustBePositive(t *testing.T) {
	s := New()
	for _, ttl := range []time.Duration{0, -time.Second} {
		unlock, err := s.Lock(t.Context(), "mollie", "owner-1", ttl)
		assert.Error(t, err, "ttl %s", ttl)
		assert.Nil(t, unlock)
	}
	assert.Zero(t, s.lockCount())
}

func TestSaveNil(t *testing.T) {
	assert.Error(t, New().Save(t.Context(), nil))
}

func TestSaveStoresIndependentCopy(t *testing.T) {
	s := New()
	c := &oauthlink.Connection{Provider: "mollie", Owner: "o", Scopes: []string{"a"}, Expiry: time.Now()}
	require.NoError(t, s.Save(t.Context(), c))
	rec := s.conns["o"]["mollie"]
	assert.NotSame(t, c, rec)
	c.Scopes[0] = "changed"
	assert.Equal(t, "a", rec.Scopes[0])
	assert.Equal(t, rec.Expiry, rec.Expiry.Round(0), "stored times carry no monotonic reading")
}

func TestDeleteDropsEmptyOwner(t *testing.T) {
	s := New()
	require.NoError(t, s.Save(t.Context(), &oauthlink.Connection{Provider: "mollie", Owner: "o"}))
	require.NoError(t, s.Delete(t.Context(), "mollie", "o"))
	assert.Empty(t, s.conns, "an owner without connections leaves no map behind")
	_, err := s.Load(t.Context(), "mollie", "o")
	assert.True(t, errors.Is(err, store.ErrNotFound))
}

func TestDeleteVersionDropsEmptyOwner(t *testing.T) {
	s := New()
	require.NoError(t, s.Save(t.Context(), &oauthlink.Connection{Provider: "mollie", Owner: "o"}))
	require.ErrorIs(t, s.DeleteVersion(t.Context(), "mollie", "o", 2), store.ErrVersionConflict)
	require.NotEmpty(t, s.conns, "a conflict keeps the record")
	require.NoError(t, s.DeleteVersion(t.Context(), "mollie", "o", 1))
	assert.Empty(t, s.conns, "an owner without connections leaves no map behind")
	require.NoError(t, s.DeleteVersion(t.Context(), "mollie", "o", 1), "a missing record")
	assert.Empty(t, s.conns, "deleting a missing record creates no owner map")
}
