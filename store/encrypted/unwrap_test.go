package encrypted_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// The wrapper passes the inner store's optional capabilities through
// Unwrap, where oauthlink looks for them, and says it encrypts at rest.
func TestUnwrapPassesCapabilities(t *testing.T) {
	inner := memstore.New()
	s, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	assert.Same(t, inner, s.Unwrap())
	assert.True(t, s.EncryptsAtRest())

	var ts store.TokenStore = s
	enc, ok := ts.(interface{ EncryptsAtRest() bool })
	require.True(t, ok, "found through an anonymous interface")
	assert.True(t, enc.EncryptsAtRest())

	u, ok := ts.(interface{ Unwrap() store.TokenStore })
	require.True(t, ok)
	_, locker := u.Unwrap().(store.Locker)
	_, deleter := u.Unwrap().(store.VersionDeleter)
	_, guard := u.Unwrap().(store.ReplayGuard)
	_, pinger := u.Unwrap().(store.Pinger)
	assert.True(t, locker && deleter && guard && pinger, "memstore's capabilities are reachable through Unwrap")
}

// wrapping is an app's own store decorator around the encrypting store.
type wrapping struct{ store.TokenStore }

func (w wrapping) Unwrap() store.TokenStore { return w.TokenStore }

// Reseal accepts a store that wraps the encrypting one, and refuses the
// inner store alone.
func TestResealThroughAWrapper(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	plant(t, inner, fullConn("shop-1"))
	s, err := encrypted.New(inner, encrypted.Options{Keys: []encrypted.Key{tokenKey("k1", 1)}, MigratePlaintext: true})
	require.NoError(t, err)

	_, err = encrypted.Reseal(ctx, wrapping{inner}, "shop-1")
	require.Error(t, err)
	n, err := encrypted.Reseal(ctx, wrapping{s}, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// Scan opens what the inner store's Scan returns, and says so when the
// inner store cannot scan instead of answering an empty fleet.
func TestScanOpensAndNeedsAScanner(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	enc, err := encrypted.New(inner, encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: make([]byte, 32)}}})
	require.NoError(t, err)
	c := &store.Connection{Provider: "mollie", Owner: "shop-1", AccessToken: "at-secret", Status: store.StatusActive}
	require.NoError(t, enc.Save(ctx, c))
	p, err := enc.Scan(ctx, store.Query{})
	require.NoError(t, err)
	require.Len(t, p.Connections, 1)
	assert.Equal(t, "at-secret", p.Connections[0].AccessToken.Reveal(), "opened")
	raw, err := inner.Scan(ctx, store.Query{})
	require.NoError(t, err)
	assert.NotEqual(t, "at-secret", raw.Connections[0].AccessToken.Reveal(), "sealed in the inner store")

	blind, err := encrypted.New(struct{ store.TokenStore }{inner}, encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: make([]byte, 32)}}})
	require.NoError(t, err)
	_, err = blind.Scan(ctx, store.Query{})
	assert.ErrorIs(t, err, encrypted.ErrNoScan)
}
