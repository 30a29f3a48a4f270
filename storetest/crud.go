package storetest

import (
	"slices"
	"strings"
	"testing"

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
