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

// testVersion checks the optimistic concurrency of Save: the Version,
// CreatedAt and UpdatedAt it sets on create and update, and the
// ErrVersionConflict of a Save whose Version is not the stored one.
func (s suite) testVersion(t *testing.T) {
	t.Run("CreateSetsVersionAndTimes", s.testCreateSetsVersionAndTimes)
	t.Run("CreateTwiceConflicts", s.testCreateTwiceConflicts)
	t.Run("UpdateIncrementsVersion", s.testUpdateIncrementsVersion)
	t.Run("StaleVersionConflicts", s.testStaleVersionConflicts)
	for _, tc := range versionConflicts {
		t.Run(tc.name, func(t *testing.T) { s.testVersionConflict(t, tc) })
	}
	t.Run("NegativeVersionFails", s.testNegativeVersionFails)
}

func (s suite) testCreateSetsVersionAndTimes(t *testing.T) {
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
}

func (s suite) testCreateTwiceConflicts(t *testing.T) {
	st := s.store(t)
	first := create(t, st, NewConnection("mollie", "owner-1"))
	assertSaveConflicts(t, st, NewConnection("mollie", "owner-1"))
	assertStored(t, st, first)
}

// testUpdateIncrementsVersion updates a record three times, each time with
// every field new and a stale UpdatedAt, and checks the Version, CreatedAt
// and UpdatedAt each Save sets.
func (s suite) testUpdateIncrementsVersion(t *testing.T) {
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
}

// testStaleVersionConflicts has two callers load the same version: the
// first one's Save wins, the second one's conflicts.
func (s suite) testStaleVersionConflicts(t *testing.T) {
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
	assertSaveConflicts(t, st, b)
	assertStored(t, st, a)
}

// versionConflict is a Save with a Version that matches no stored record.
type versionConflict struct {
	name    string
	setup   func(t *testing.T, st store.TokenStore) // may store a record
	version int64
	stored  bool // whether a record exists and must stay as it was
}

// versionConflicts are the Saves testVersionConflict makes.
var versionConflicts = []versionConflict{
	{"VersionAheadConflicts", func(t *testing.T, st store.TokenStore) {
		create(t, st, NewConnection("mollie", "owner-1"))
	}, 7, true},
	{"UpdateOfMissingConflicts", func(t *testing.T, st store.TokenStore) {}, 3, false},
	{"UpdateAfterDeleteConflicts", func(t *testing.T, st store.TokenStore) {
		create(t, st, NewConnection("mollie", "owner-1"))
		require.NoError(t, st.Delete(testContext(t), "mollie", "owner-1"))
	}, 1, false},
}

// testVersionConflict saves a NewConnection at tc.version after tc.setup:
// the Save conflicts and the store keeps what it had.
func (s suite) testVersionConflict(t *testing.T, tc versionConflict) {
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
	assertSaveConflicts(t, st, c)
	if tc.stored {
		assertStored(t, st, before)
	} else {
		assertAbsent(t, st, "mollie", "owner-1")
	}
}

func (s suite) testNegativeVersionFails(t *testing.T) {
	st := s.store(t)
	c := NewConnection("mollie", "owner-1")
	c.Version = -1
	assert.Error(t, st.Save(testContext(t), c))
	assertAbsent(t, st, "mollie", "owner-1")
}

// assertSaveConflicts checks that saving c fails with ErrVersionConflict
// and leaves c as it was.
func assertSaveConflicts(t *testing.T, st store.TokenStore, c *oauthlink.Connection) {
	t.Helper()
	untouched := c.Clone()
	assert.ErrorIs(t, st.Save(testContext(t), c), store.ErrVersionConflict)
	AssertConnectionEqual(t, untouched, c, "a conflicting Save changed the caller's connection")
}
