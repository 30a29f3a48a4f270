package storetest

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// create saves c as a new record and returns the stored copy read back.
func create(t *testing.T, st store.TokenStore, c *oauthlink.Connection) *oauthlink.Connection {
	t.Helper()
	ctx := testContext(t)
	require.NoError(t, st.Save(ctx, c), "create %q for %q", c.Provider, c.Owner)
	got, err := st.Load(ctx, c.Provider, c.Owner)
	require.NoError(t, err, "load %q for %q after create", c.Provider, c.Owner)
	return got
}

// assertStored checks that the store holds exactly want for want's key.
func assertStored(t *testing.T, st store.TokenStore, want *oauthlink.Connection) {
	t.Helper()
	got, err := st.Load(testContext(t), want.Provider, want.Owner)
	if assert.NoError(t, err, "load %q for %q", want.Provider, want.Owner) {
		AssertConnectionEqual(t, want, got, "stored record for %q, %q", want.Provider, want.Owner)
	}
}

// assertAbsent checks that nothing is stored for (provider, owner).
func assertAbsent(t *testing.T, st store.TokenStore, provider, owner string) {
	t.Helper()
	got, err := st.Load(testContext(t), provider, owner)
	assert.ErrorIs(t, err, store.ErrNotFound, "load %q for %q", provider, owner)
	assert.Nil(t, got, "Load returned a connection with an error")
}

func (s suite) testNotFound(t *testing.T) {
	st := s.store(t)
	ctx := testContext(t)
	seed := create(t, st, NewConnection("mollie", "owner-1"))

	t.Run("Load", func(t *testing.T) {
		for _, k := range []struct{ name, provider, owner string }{
			{"empty store key", "qonto", "owner-2"},
			{"other provider", "qonto", "owner-1"},
			{"other owner", "mollie", "owner-2"},
			{"owner prefix", "mollie", "owner-"},
			{"owner extension", "mollie", "owner-1:x"},
			{"provider case", "Mollie", "owner-1"},
			{"owner case", "mollie", "OWNER-1"},
			{"swapped", "owner-1", "mollie"},
		} {
			t.Run(k.name, func(t *testing.T) { assertAbsent(t, st, k.provider, k.owner) })
		}
	})
	t.Run("List", func(t *testing.T) {
		for _, owner := range []string{"owner-2", "owner-", "owner-1:", "OWNER-1", "mollie", "*", "%"} {
			got, err := st.List(ctx, owner)
			require.NoError(t, err, "list %q", owner)
			assert.Empty(t, got, "list %q", owner)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		assert.NoError(t, st.Delete(ctx, "qonto", "owner-1"), "delete of a missing record")
		assert.NoError(t, st.Delete(ctx, "mollie", "owner-2"), "delete of a missing record")
		assertStored(t, st, seed)
	})
}

// wholeMillisecondWithMonotonic returns a time d from now that is a whole
// millisecond yet still carries a monotonic clock reading, which the store
// must not keep.
func wholeMillisecondWithMonotonic(d time.Duration) time.Time {
	now := time.Now()
	return now.Add(d - now.Sub(now.Truncate(Precision)))
}

func (s suite) testRoundTrip(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		edit func(c *oauthlink.Connection)
	}{
		{"realistic", func(c *oauthlink.Connection) {}},
		{"expiry with monotonic reading", func(c *oauthlink.Connection) {
			c.Expiry = wholeMillisecondWithMonotonic(time.Hour)
		}},
		{"expiry in another zone with milliseconds", func(c *oauthlink.Connection) {
			c.Expiry = time.Date(2031, 7, 14, 23, 59, 58, 123_000_000, cet)
		}},
		{"expiry after 2106", func(c *oauthlink.Connection) { // past 32-bit Unix seconds
			c.Expiry = time.Date(2107, 1, 1, 0, 0, 0, 999_000_000, time.UTC)
		}},
		{"expiry in the past", func(c *oauthlink.Connection) {
			c.Expiry = time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
		}},
		{"minimal", func(c *oauthlink.Connection) {
			c.AccountID, c.RefreshToken, c.Scopes, c.Extra, c.RedirectURI = "", "", nil, "", ""
		}},
		{"empty scopes", func(c *oauthlink.Connection) { c.Scopes = []string{} }},
		{"scope order and odd scope tokens kept", func(c *oauthlink.Connection) {
			c.Scopes = []string{"z.write", "a.read", "x:y/z", "a,b", "{}[]", "offline_access"}
		}},
		{"reauth required", func(c *oauthlink.Connection) { c.Status = store.StatusReauthRequired }},
		{"disconnected", func(c *oauthlink.Connection) { c.Status = store.StatusDisconnected }},
		{"unicode in extra", func(c *oauthlink.Connection) {
			c.Extra = `{"id_token":"ey.x.y","name":"Zoë 🚀 東京","nested":{"a":[1,2,{"b":null}]}}`
		}},
		{"extra formatting kept byte for byte", func(c *oauthlink.Connection) {
			c.Extra = "{ \"b\" : 1,\n  \"a\" : 2 }"
		}},
		{"zero expiry", func(c *oauthlink.Connection) { c.Expiry = time.Time{} }},
		{"retired grants", func(c *oauthlink.Connection) { c.Retired = retiredGrants(4) }},
		{"retired grants with odd values", func(c *oauthlink.Connection) {
			c.Retired = []store.RetiredToken{
				{Token: `ory_rt_"quoted",\back{}[]`, Kind: "refresh_token", Since: time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)},
				{Token: "", Kind: "", Since: time.Time{}},
				{Token: store.Secret("Zoë 🚀 東京 " + strings.Repeat("x", 4096)), Kind: "access_token",
					Since: time.Date(2107, 1, 1, 0, 0, 0, 999_000_000, time.UTC)},
				{Token: "dup", Kind: "refresh_token", Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
				{Token: "dup", Kind: "refresh_token", Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
			}
		}},
		{"empty retired list", func(c *oauthlink.Connection) { c.Retired = []store.RetiredToken{} }},
		{"qonto style tokens", func(c *oauthlink.Connection) {
			c.AccessToken = "ory_at_fake.Zq3-AmDV_n2Rk5yOkNp0uVbFDqGjQrIsx8XcfY7EasyVw"
			c.RefreshToken = "ory_rt_fake.YB0s-PnNc_z1zzv8gKeSXvC8Wj1CGmX9uTJ6V2YGmUfpI"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t)
			ctx := testContext(t)
			c := NewConnection("mollie", "owner-1")
			tc.edit(c)
			want := c.Clone()

			before := time.Now()
			require.NoError(t, st.Save(ctx, c))
			after := time.Now()

			assert.EqualValues(t, 1, c.Version, "Save must set Version 1 on create")
			assertRecent(t, "CreatedAt", c.CreatedAt, before, after)
			assertRecent(t, "UpdatedAt", c.UpdatedAt, before, after)
			want.Version, want.CreatedAt, want.UpdatedAt = c.Version, c.CreatedAt, c.UpdatedAt
			AssertConnectionEqual(t, want, c, "Save changed a field of c other than Version, CreatedAt and UpdatedAt")

			got, err := st.Load(ctx, "mollie", "owner-1")
			require.NoError(t, err)
			AssertConnectionEqual(t, want, got, "Load after Save")
			assertFromStorage(t, got)
			if want.Expiry.IsZero() {
				assert.True(t, got.Expiry.IsZero(), "a zero Expiry must read back as the zero time, got %s", got.Expiry)
			}

			list, err := st.List(ctx, "owner-1")
			require.NoError(t, err)
			if assert.Len(t, list, 1) {
				AssertConnectionEqual(t, want, list[0], "List after Save")
				assertFromStorage(t, list[0])
			}
		})
	}
}

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

func (s suite) testDelete(t *testing.T) {
	st := s.store(t)
	ctx := testContext(t)
	target := create(t, st, NewConnection("mollie", "owner-1"))
	neighbours := []*oauthlink.Connection{
		create(t, st, NewConnection("qonto", "owner-1")),
		create(t, st, NewConnection("mollie", "owner-2")),
		create(t, st, NewConnection("mollie", "owner-1:x")),
		create(t, st, NewConnection("mollie", "owner-")),
		create(t, st, NewConnection("mollie:owner", "1")),
	}

	require.NoError(t, st.Delete(ctx, target.Provider, target.Owner))
	t.Run("ThenLoad", func(t *testing.T) { assertAbsent(t, st, "mollie", "owner-1") })
	t.Run("ThenList", func(t *testing.T) {
		list, err := st.List(ctx, "owner-1")
		require.NoError(t, err)
		if assert.Len(t, list, 1) {
			AssertConnectionEqual(t, neighbours[0], list[0])
		}
	})
	t.Run("LeavesOthers", func(t *testing.T) {
		for _, n := range neighbours {
			assertStored(t, st, n)
		}
	})
	t.Run("Twice", func(t *testing.T) {
		assert.NoError(t, st.Delete(ctx, target.Provider, target.Owner), "deleting a deleted record")
	})
	t.Run("ThenCreate", func(t *testing.T) {
		c := NewConnection("mollie", "owner-1")
		require.NoError(t, st.Save(ctx, c), "create after delete")
		assert.Positive(t, c.Version)
		assertStored(t, st, c)
	})
}

func (s suite) testList(t *testing.T) {
	st := s.store(t)
	ctx := testContext(t)
	providers := []string{"qonto", "mollie", "stripe", "adyen", "gocardless"} // saved in this order
	var want []*oauthlink.Connection
	for _, p := range providers {
		want = append(want, create(t, st, NewConnection(p, "owner-1")))
	}
	slices.SortFunc(want, func(a, b *oauthlink.Connection) int { return strings.Compare(a.Provider, b.Provider) })
	others := map[string]*oauthlink.Connection{}
	for _, owner := range []string{"owner-10", "owner-", "owner-1:", "Owner-1", "owner-1 "} {
		others[owner] = create(t, st, NewConnection("mollie", owner))
	}

	t.Run("OrderedByProvider", func(t *testing.T) {
		got, err := st.List(ctx, "owner-1")
		require.NoError(t, err)
		require.Len(t, got, len(want), "List must return every connection of the owner and no other")
		for i := range want {
			AssertConnectionEqual(t, want[i], got[i], "List item %d (want provider %q)", i, want[i].Provider)
			assertFromStorage(t, got[i])
		}
	})
	t.Run("OnlyThatOwner", func(t *testing.T) {
		for owner, c := range others {
			got, err := st.List(ctx, owner)
			require.NoError(t, err)
			if assert.Len(t, got, 1, "list %q", owner) {
				AssertConnectionEqual(t, c, got[0], "list %q", owner)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		got, err := st.List(ctx, "owner-2")
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("AfterUpdate", func(t *testing.T) {
		c, err := st.Load(ctx, "mollie", "owner-1")
		require.NoError(t, err)
		c.AccessToken = "access_updated"
		require.NoError(t, st.Save(ctx, c))
		got, err := st.List(ctx, "owner-1")
		require.NoError(t, err)
		i := slices.IndexFunc(got, func(g *oauthlink.Connection) bool { return g.Provider == "mollie" })
		if assert.GreaterOrEqual(t, i, 0, "mollie missing from List") {
			AssertConnectionEqual(t, c, got[i])
		}
		assert.Len(t, got, len(want))
	})
}

// testRetired checks that an update writes the whole Retired list: the
// entries it adds, replaces and drops, so a revoked grant leaves the list
// and a pending one never does.
func (s suite) testRetired(t *testing.T) {
	tests := []struct {
		name          string
		before, after []store.RetiredToken
	}{
		{"AddedOnUpdate", nil, retiredGrants(2)},
		{"ReplacedOnUpdate", retiredGrants(3), nil}, // after: set below
		{"OneDroppedOnUpdate", retiredGrants(3), nil},
		{"ClearedOnUpdate", retiredGrants(3), nil},
	}
	tests[1].after = append(retiredGrants(1), tests[1].before[2], tests[1].before[0]) // new, kept, reordered
	tests[2].after = []store.RetiredToken{tests[2].before[0], tests[2].before[2]}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t)
			ctx := testContext(t)
			c := NewConnection("mollie", "owner-1")
			c.Retired = tc.before
			c = create(t, st, c)
			c.Retired = tc.after
			require.NoError(t, st.Save(ctx, c))
			assertStored(t, st, c)
			list, err := st.List(ctx, "owner-1")
			require.NoError(t, err)
			if assert.Len(t, list, 1) {
				AssertConnectionEqual(t, c, list[0], "List after the update")
			}
			if len(tc.after) == 0 {
				got, err := st.Load(ctx, "mollie", "owner-1")
				require.NoError(t, err)
				assert.Empty(t, got.Retired, "an update with no retired grant must clear the list")
			}
		})
	}
}

// testZeroExpiry checks that an update to a zero Expiry (a token without a
// known lifetime) and back is stored as such.
func (s suite) testZeroExpiry(t *testing.T) {
	st := s.store(t)
	ctx := testContext(t)
	c := create(t, st, NewConnection("mollie", "owner-1"))
	c.Expiry = time.Time{}
	require.NoError(t, st.Save(ctx, c))
	assertStored(t, st, c)
	got, err := st.Load(ctx, "mollie", "owner-1")
	require.NoError(t, err)
	assert.True(t, got.Expiry.IsZero(), "a zero Expiry must read back as the zero time, got %s", got.Expiry)

	c.Expiry = time.Now().Add(time.Hour).Truncate(Precision)
	require.NoError(t, st.Save(ctx, c))
	assertStored(t, st, c)
}
