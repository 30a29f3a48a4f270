package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

func (s suite) testVersion(t *testing.T) {
	t.Run("CreateSetsVersionAndTimes", func(t *testing.T) {
		st := s.store(t)
		c := NewConnection("mollie", "owner-1")
		before := time.Now()
		require.NoError(t, st.Save(testContext(t), c))
		after := time.Now()
		assert.EqualValues(t, 1, c.Version)
		assertRecent(t, "CreatedAt", c.CreatedAt, before, after)
		assertRecent(t, "UpdatedAt", c.UpdatedAt, before, after)
		assert.False(t, c.UpdatedAt.Before(c.CreatedAt), "UpdatedAt before CreatedAt")
		assertStored(t, st, c)
	})

	t.Run("CreateTwiceConflicts", func(t *testing.T) {
		st := s.store(t)
		first := create(t, st, NewConnection("mollie", "owner-1"))
		second := NewConnection("mollie", "owner-1")
		untouched := second.Clone()
		err := st.Save(testContext(t), second)
		assert.ErrorIs(t, err, store.ErrVersionConflict)
		AssertConnectionEqual(t, untouched, second, "a conflicting Save changed the caller's connection")
		assertStored(t, st, first)
	})

	t.Run("UpdateIncrementsVersion", func(t *testing.T) {
		st := s.store(t)
		ctx := testContext(t)
		created := create(t, st, NewConnection("mollie", "owner-1"))
		stale := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		for want := int64(2); want <= 4; want++ {
			c, err := st.Load(ctx, "mollie", "owner-1")
			require.NoError(t, err)
			next := NewConnection("mollie", "owner-1") // every field new
			next.Status = store.StatusReauthRequired
			next.Scopes = append(next.Scopes, "refresh-"+strconv.FormatInt(want, 10))
			next.Version, next.CreatedAt, next.UpdatedAt = c.Version, c.CreatedAt, stale
			before := time.Now()
			require.NoError(t, st.Save(ctx, next), "update from version %d", c.Version)
			after := time.Now()
			assert.Equal(t, want, next.Version, "Save must set Version to old+1")
			assert.True(t, next.CreatedAt.Equal(created.CreatedAt), "an update changed CreatedAt")
			assertRecent(t, "UpdatedAt", next.UpdatedAt, before, after)
			assertStored(t, st, next)
		}
	})

	t.Run("StaleVersionConflicts", func(t *testing.T) {
		st := s.store(t)
		ctx := testContext(t)
		create(t, st, NewConnection("mollie", "owner-1"))
		a, err := st.Load(ctx, "mollie", "owner-1")
		require.NoError(t, err)
		b, err := st.Load(ctx, "mollie", "owner-1")
		require.NoError(t, err)

		a.AccessToken = "access_from_a"
		require.NoError(t, st.Save(ctx, a))
		b.AccessToken = "access_from_b"
		b.Scopes = []string{"b"}
		untouched := b.Clone()
		assert.ErrorIs(t, st.Save(ctx, b), store.ErrVersionConflict)
		AssertConnectionEqual(t, untouched, b, "a conflicting Save changed the caller's connection")
		assertStored(t, st, a)
	})

	conflicts := []struct {
		name    string
		setup   func(t *testing.T, st store.TokenStore) // may store a record
		version int64
		stored  bool // whether a record exists and must stay as it was
	}{
		{"VersionAheadConflicts", func(t *testing.T, st store.TokenStore) {
			create(t, st, NewConnection("mollie", "owner-1"))
		}, 7, true},
		{"UpdateOfMissingConflicts", func(t *testing.T, st store.TokenStore) {}, 3, false},
		{"UpdateAfterDeleteConflicts", func(t *testing.T, st store.TokenStore) {
			create(t, st, NewConnection("mollie", "owner-1"))
			require.NoError(t, st.Delete(testContext(t), "mollie", "owner-1"))
		}, 1, false},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t)
			tc.setup(t, st)
			var before *oauthlink.Connection
			if tc.stored {
				var err error
				before, err = st.Load(testContext(t), "mollie", "owner-1")
				require.NoError(t, err)
			}
			c := NewConnection("mollie", "owner-1")
			c.Version = tc.version
			untouched := c.Clone()
			assert.ErrorIs(t, st.Save(testContext(t), c), store.ErrVersionConflict)
			AssertConnectionEqual(t, untouched, c, "a conflicting Save changed the caller's connection")
			if tc.stored {
				assertStored(t, st, before)
			} else {
				assertAbsent(t, st, "mollie", "owner-1")
			}
		})
	}

	t.Run("NegativeVersionFails", func(t *testing.T) {
		st := s.store(t)
		c := NewConnection("mollie", "owner-1")
		c.Version = -1
		assert.Error(t, st.Save(testContext(t), c))
		assertAbsent(t, st, "mollie", "owner-1")
	})
}
