package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// updated creates a record for (provider, owner) and saves it once more, so
// that it is at version 2: a version a record created again after a delete
// does not start at.
func updated(t *testing.T, st store.TokenStore, provider, owner string) *oauthlink.Connection {
	t.Helper()
	c := create(t, st, NewConnection(provider, owner))
	c.AccessToken = store.Secret("access_updated_" + owner)
	require.NoError(t, st.Save(testContext(t), c), "update %q for %q", provider, owner)
	require.EqualValues(t, 2, c.Version, "version after create and update")
	return c
}

func (s suite) testVersionDeleter(t *testing.T) {
	if _, ok := s.store(t).(store.VersionDeleter); !ok {
		t.Skip("store does not implement store.VersionDeleter")
	}
	open := func(t *testing.T) (store.TokenStore, store.VersionDeleter) {
		st := s.store(t)
		return st, st.(store.VersionDeleter)
	}

	t.Run("MatchingVersionDeletes", func(t *testing.T) {
		st, vd := open(t)
		ctx := testContext(t)
		target := updated(t, st, "mollie", "owner-1")
		neighbours := []*oauthlink.Connection{
			create(t, st, NewConnection("qonto", "owner-1")),
			create(t, st, NewConnection("mollie", "owner-2")),
			create(t, st, NewConnection("mollie", "owner-1:x")),
		}
		require.NoError(t, vd.DeleteVersion(ctx, "mollie", "owner-1", target.Version))
		assertAbsent(t, st, "mollie", "owner-1")
		list, err := st.List(ctx, "owner-1")
		require.NoError(t, err)
		if assert.Len(t, list, 1, "List after DeleteVersion") {
			AssertConnectionEqual(t, neighbours[0], list[0])
		}
		for _, n := range neighbours {
			assertStored(t, st, n)
		}
	})

	t.Run("OtherVersionConflicts", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			version int64
		}{{"Behind", 1}, {"Ahead", 3}, {"FarAhead", 1 << 40}} {
			t.Run(tc.name, func(t *testing.T) {
				st, vd := open(t)
				ctx := testContext(t)
				before := updated(t, st, "mollie", "owner-1")
				err := vd.DeleteVersion(ctx, "mollie", "owner-1", tc.version)
				assert.ErrorIs(t, err, store.ErrVersionConflict, "DeleteVersion(%d) of a record at version 2", tc.version)
				assertStored(t, st, before)
				list, err := st.List(ctx, "owner-1")
				require.NoError(t, err)
				if assert.Len(t, list, 1, "List after a conflicting DeleteVersion") {
					AssertConnectionEqual(t, before, list[0])
				}
			})
		}
	})

	t.Run("MissingIsNil", func(t *testing.T) {
		st, vd := open(t)
		ctx := testContext(t)
		neighbour := create(t, st, NewConnection("qonto", "owner-1"))
		assert.NoError(t, vd.DeleteVersion(ctx, "mollie", "owner-1", 1), "never stored")
		assertAbsent(t, st, "mollie", "owner-1")

		deleted := create(t, st, NewConnection("mollie", "owner-1"))
		require.NoError(t, st.Delete(ctx, "mollie", "owner-1"))
		assert.NoError(t, vd.DeleteVersion(ctx, "mollie", "owner-1", deleted.Version), "deleted with Delete")
		assert.NoError(t, vd.DeleteVersion(ctx, "mollie", "owner-1", 5), "deleted, another version")
		assertAbsent(t, st, "mollie", "owner-1")
		assertStored(t, st, neighbour)
	})

	t.Run("NonPositiveVersionFails", func(t *testing.T) {
		st, vd := open(t)
		ctx := testContext(t)
		stored := create(t, st, NewConnection("mollie", "owner-1"))
		for _, v := range []int64{0, -1} {
			for _, owner := range []string{"owner-1", "owner-2"} { // stored, missing
				err := vd.DeleteVersion(ctx, "mollie", owner, v)
				if assert.Error(t, err, "DeleteVersion(%d) for %q", v, owner) {
					assert.NotErrorIs(t, err, store.ErrVersionConflict, "a version below 1 is a caller's mistake, not a conflict")
				}
			}
		}
		assertStored(t, st, stored)
		assertAbsent(t, st, "mollie", "owner-2")
	})

	// A record deleted and created again starts over at version 1; a
	// DeleteVersion carrying the old record's version 2 must leave it.
	t.Run("CreatedAgainKept", func(t *testing.T) {
		st, vd := open(t)
		ctx := testContext(t)
		old := updated(t, st, "mollie", "owner-1")
		require.NoError(t, st.Delete(ctx, "mollie", "owner-1"))
		again := create(t, st, NewConnection("mollie", "owner-1"))
		require.NotEqual(t, old.Version, again.Version)
		assert.ErrorIs(t, vd.DeleteVersion(ctx, "mollie", "owner-1", old.Version), store.ErrVersionConflict)
		assertStored(t, st, again)
	})

	t.Run("RacesUpdate", s.testDeleteVersionRacesUpdate)
	t.Run("RacesDeleteAndCreate", s.testDeleteVersionRacesDeleteAndCreate)
}

// testDeleteVersionRacesUpdate races deleters and savers that all read the
// same version: either one save wins and nothing is deleted, or the record
// is deleted and every save conflicts. A store that checks the version and
// deletes in two steps lets a save succeed and then deletes its record.
func (s suite) testDeleteVersionRacesUpdate(t *testing.T) {
	const (
		rounds = 20
		each   = 8 // deleters and savers
	)
	st := s.store(t)
	vd := st.(store.VersionDeleter)
	ctx := testContext(t)
	for round := range rounds {
		owner := "owner-" + strconv.Itoa(round)
		read := create(t, st, NewConnection("mollie", owner))
		conns := make([]*oauthlink.Connection, each)
		for i := range conns {
			conns[i] = read.Clone()
			conns[i].AccessToken = store.Secret(fmt.Sprintf("access_saver_%02d", i))
		}
		saveErrs, delErrs := make([]error, each), make([]error, each)
		deleters := times(each, func(i int) { delErrs[i] = vd.DeleteVersion(ctx, "mollie", owner, read.Version) })
		savers := times(each, func(i int) { saveErrs[i] = st.Save(ctx, conns[i]) })
		race(t, "racing deleters and savers", append(deleters, savers...)...)

		saved := succeeded(t, saveErrs, round, "saver")
		deleted := len(succeeded(t, delErrs, round, "deleter"))
		switch {
		case len(saved) == 1 && deleted == 0:
			assertStored(t, st, conns[saved[0]])
		case len(saved) == 0 && deleted > 0:
			assertAbsent(t, st, "mollie", owner)
		default:
			got, err := st.Load(ctx, "mollie", owner)
			assert.Fail(t, "DeleteVersion is not atomic with Save",
				"round %d: %d saves and %d deletes of version %d succeeded; want one save and no delete, "+
					"or no save; record now: %v (%v)", round, len(saved), deleted, read.Version, got, err)
		}
	}
}

// testDeleteVersionRacesDeleteAndCreate races deleters carrying a record's
// version against a writer that deletes the record and creates it again:
// whatever the order, the record created again (at version 1) survives.
func (s suite) testDeleteVersionRacesDeleteAndCreate(t *testing.T) {
	const (
		rounds   = 20
		deleters = 4
	)
	st := s.store(t)
	vd := st.(store.VersionDeleter)
	ctx := testContext(t)
	for round := range rounds {
		owner := "owner-" + strconv.Itoa(round)
		old := updated(t, st, "mollie", owner)
		again := NewConnection("mollie", owner)
		delErrs := make([]error, deleters)
		var writeErr error
		recreate := func() {
			if err := st.Delete(ctx, "mollie", owner); err != nil {
				writeErr = fmt.Errorf("delete: %w", err)
				return
			}
			if err := st.Save(ctx, again); err != nil {
				writeErr = fmt.Errorf("create again: %w", err)
			}
		}
		race(t, "deleters racing a delete and create",
			append(times(deleters, func(i int) { delErrs[i] = vd.DeleteVersion(ctx, "mollie", owner, old.Version) }), recreate)...)

		require.NoError(t, writeErr, "round %d", round)
		for i, err := range delErrs {
			if err != nil && !errors.Is(err, store.ErrVersionConflict) {
				assert.NoError(t, err, "round %d, deleter %d", round, i)
			}
		}
		assertStored(t, st, again)
	}
}
