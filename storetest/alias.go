package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// mutate changes every field of c in place, including the elements of its
// Scopes and Retired slices and their spare capacity, as careless caller
// code might.
func mutate(c *oauthlink.Connection) {
	c.AccountID = "mutated"
	c.AccessToken = "mutated"
	c.RefreshToken = "mutated"
	c.TokenType = "mutated"
	c.Expiry = c.Expiry.Add(1)
	for i := range c.Scopes {
		c.Scopes[i] = "mutated"
	}
	c.Scopes = append(c.Scopes[:len(c.Scopes):cap(c.Scopes)], "appended")
	for i := range c.Retired {
		c.Retired[i] = store.RetiredToken{Token: "mutated", Kind: "mutated", Since: c.Retired[i].Since.Add(1)}
	}
	c.Retired = append(c.Retired[:len(c.Retired):cap(c.Retired)], store.RetiredToken{Token: "appended"})
	c.Extra = "mutated"
	c.RedirectURI = "mutated"
	c.Status = store.StatusDisconnected
	c.Version = 99
	c.CreatedAt = c.CreatedAt.Add(1)
	c.UpdatedAt = c.UpdatedAt.Add(1)
}

// testNoAliasing checks that the store and its callers never share memory:
// changing a returned connection, or a saved one afterwards, does not change
// what the store returns next.
func (s suite) testNoAliasing(t *testing.T) {
	tests := []struct {
		name string
		// run returns the connection the store must still hold after
		// mutating what it got or returned.
		run func(t *testing.T, st store.TokenStore) *oauthlink.Connection
	}{
		{"LoadResult", func(t *testing.T, st store.TokenStore) *oauthlink.Connection {
			want := create(t, st, withRetired(NewConnection("mollie", "owner-1"))).Clone()
			got, err := st.Load(testContext(t), "mollie", "owner-1")
			require.NoError(t, err)
			mutate(got)
			return want
		}},
		{"ListResult", func(t *testing.T, st store.TokenStore) *oauthlink.Connection {
			want := create(t, st, withRetired(NewConnection("mollie", "owner-1"))).Clone()
			list, err := st.List(testContext(t), "owner-1")
			require.NoError(t, err)
			require.Len(t, list, 1)
			mutate(list[0])
			return want
		}},
		{"SaveInputAfterCreate", func(t *testing.T, st store.TokenStore) *oauthlink.Connection {
			c := withRetired(NewConnection("mollie", "owner-1"))
			c.Scopes = append(make([]string, 0, 10), c.Scopes...) // spare capacity to write into
			c.Retired = append(make([]store.RetiredToken, 0, 10), c.Retired...)
			require.NoError(t, st.Save(testContext(t), c))
			want := c.Clone()
			mutate(c)
			return want
		}},
		{"SaveInputAfterUpdate", func(t *testing.T, st store.TokenStore) *oauthlink.Connection {
			c := create(t, st, withRetired(NewConnection("mollie", "owner-1")))
			c.AccessToken = "access_updated"
			c.Scopes = append(make([]string, 0, 10), "a", "b")
			c.Retired = append(make([]store.RetiredToken, 0, 10), retiredGrants(2)...)
			require.NoError(t, st.Save(testContext(t), c))
			want := c.Clone()
			mutate(c)
			return want
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t)
			want := tc.run(t, st)
			assertStored(t, st, want)
			list, err := st.List(testContext(t), want.Owner)
			require.NoError(t, err)
			require.Len(t, list, 1)
			AssertConnectionEqual(t, want, list[0], "List after mutation")
		})
	}

	t.Run("LoadsAreIndependent", func(t *testing.T) {
		st := s.store(t)
		want := create(t, st, withRetired(NewConnection("mollie", "owner-1"))).Clone()
		a, err := st.Load(testContext(t), "mollie", "owner-1")
		require.NoError(t, err)
		b, err := st.Load(testContext(t), "mollie", "owner-1")
		require.NoError(t, err)
		mutate(a)
		AssertConnectionEqual(t, want, b, "mutating one Load result changed another")
	})
}

// withRetired gives c two retired grants, so that the aliasing checks cover
// the Retired slice too.
func withRetired(c *oauthlink.Connection) *oauthlink.Connection {
	c.Retired = retiredGrants(2)
	return c
}
