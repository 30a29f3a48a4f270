package storetest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
)

// fixedOwner and fixedProvider pair with the odd keys.
const (
	fixedOwner    = "owner-fixed"
	fixedProvider = "mollie"
)

func (s suite) testOddKeys(t *testing.T) {
	keys := OddKeys()
	require.Len(t, keys, len(uniq(keys)), "OddKeys has duplicates")

	st := s.store(t)
	ctx := testContext(t)

	// Every odd key as provider, as owner, and as both; plus pairs that a
	// store joining provider and owner with a separator would confuse.
	type rec struct{ provider, owner string }
	var recs []rec
	for _, k := range keys {
		recs = append(recs, rec{k, fixedOwner}, rec{fixedProvider, k}, rec{k, k})
	}
	for _, sep := range []string{":", "/", "|", "#", ".", "-", "_", " ", "%", "\t", "\n", ":/", "\x1f"} {
		recs = append(recs, rec{"p" + sep + "q", "o"}, rec{"p", "q" + sep + "o"})
	}
	stored := map[rec]*oauthlink.Connection{}
	for i, r := range recs {
		if stored[r] != nil {
			continue // e.g. fixedProvider as an odd key
		}
		c := NewConnection(r.provider, r.owner)
		c.AccountID = fmt.Sprintf("marker-%d", i) // tells records apart
		require.NoError(t, st.Save(ctx, c), "save %s for %s", abbrev(r.provider), abbrev(r.owner))
		stored[r] = c
	}

	t.Run("Load", func(t *testing.T) {
		for _, c := range stored {
			got, err := st.Load(ctx, c.Provider, c.Owner)
			if assert.NoError(t, err, "load %s for %s", abbrev(c.Provider), abbrev(c.Owner)) {
				AssertConnectionEqual(t, c, got, "load %s for %s", abbrev(c.Provider), abbrev(c.Owner))
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		byOwner := map[string][]*oauthlink.Connection{}
		for _, c := range stored {
			byOwner[c.Owner] = append(byOwner[c.Owner], c)
		}
		for owner, want := range byOwner {
			slices.SortFunc(want, func(a, b *oauthlink.Connection) int { return strings.Compare(a.Provider, b.Provider) })
			got, err := st.List(ctx, owner)
			require.NoError(t, err, "list %s", abbrev(owner))
			if !assert.Len(t, got, len(want), "list %s: wrong number of connections", abbrev(owner)) {
				continue
			}
			for i := range want {
				AssertConnectionEqual(t, want[i], got[i], "list %s, item %d", abbrev(owner), i)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		// Delete the records whose provider and owner are the same odd key;
		// the others must survive.
		for _, k := range keys {
			require.NoError(t, st.Delete(ctx, k, k), "delete %s", abbrev(k))
		}
		for r, c := range stored {
			if r.provider == r.owner && slices.Contains(keys, r.owner) {
				assertAbsent(t, st, r.provider, r.owner)
			} else {
				assertStored(t, st, c)
			}
		}
	})
}

// uniq returns the distinct values of ss.
func uniq(ss []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	return out
}

// randomText returns n bytes of URL-safe base64 text drawn from a seeded
// generator: incompressible enough that a store cannot pass by accident,
// and the same on every run.
func randomText(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(n)+3)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(raw)[:n]
}

// bigExtra returns a JSON object of n bytes.
func bigExtra(seed uint64, n int) string {
	const head, tail = `{"id_token":"`, `"}`
	return head + randomText(seed, n-len(head)-len(tail)) + tail
}

func (s suite) testBigValues(t *testing.T) {
	const (
		tokenSize = 64 << 10
		extraSize = 256 << 10
	)
	st := s.store(t)
	ctx := testContext(t)

	c := NewConnection("qonto", "owner-1")
	c.AccessToken = store.Secret(randomText(1, tokenSize))
	c.RefreshToken = store.Secret(randomText(2, tokenSize))
	c.Extra = store.Secret(bigExtra(3, extraSize))
	for i := range 256 {
		c.Scopes = append(c.Scopes, fmt.Sprintf("scope.%03d.read", i))
	}
	require.Len(t, c.Extra.Reveal(), extraSize)
	require.NoError(t, st.Save(ctx, c))
	assertStored(t, st, c)

	c.AccessToken = store.Secret(randomText(4, tokenSize))
	c.RefreshToken = store.Secret(randomText(5, tokenSize))
	c.Extra = store.Secret(bigExtra(6, extraSize))
	require.NoError(t, st.Save(ctx, c), "update with new big values")
	assertStored(t, st, c)

	list, err := st.List(ctx, "owner-1")
	require.NoError(t, err)
	if assert.Len(t, list, 1) {
		AssertConnectionEqual(t, c, list[0])
	}
}
