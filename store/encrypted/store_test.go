package encrypted_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.TokenStore {
		s, err := newStore(memstore.New(), tokenKey("k1", 1))
		require.NoError(t, err)
		return s
	})
}

// J36: nothing readable in the inner store; ciphertexts do not move between
// rows or fields; keys rotate.
func TestJ36_EncryptionAtRest(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	s, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	c := sealedConn("shop-1")
	require.NoError(t, s.Save(ctx, c))
	assert.Equal(t, int64(1), c.Version)
	assert.Equal(t, store.Secret("ory_at_PLAINTEXT_A"), c.AccessToken, "the caller keeps its plaintext")

	raw, err := inner.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	for _, v := range []store.Secret{raw.AccessToken, raw.RefreshToken, raw.Extra} {
		assert.True(t, strings.HasPrefix(v.Reveal(), "olk2:k1:"))
		assert.NotContains(t, v.Reveal(), "PLAINTEXT")
	}
	got, err := s.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, c.AccessToken, got.AccessToken)
	assert.Equal(t, c.RefreshToken, got.RefreshToken)
	assert.Equal(t, c.Extra, got.Extra)

	t.Run("swapped between rows fails", func(t *testing.T) {
		require.NoError(t, s.Save(ctx, sealedConn("shop-2")))
		other, err := inner.Load(ctx, "qonto", "shop-2")
		require.NoError(t, err)
		other.AccessToken = raw.AccessToken // shop-1's ciphertext in shop-2's row
		require.NoError(t, inner.Save(ctx, other))
		_, err = s.Load(ctx, "qonto", "shop-2")
		assert.ErrorIs(t, err, encrypted.ErrDecrypt)
		assert.NotContains(t, err.Error(), "PLAINTEXT")
	})
	t.Run("swapped between fields fails", func(t *testing.T) {
		cur, err := inner.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
		cur.AccessToken, cur.RefreshToken = cur.RefreshToken, cur.AccessToken
		require.NoError(t, inner.Save(ctx, cur))
		_, err = s.Load(ctx, "qonto", "shop-1")
		assert.ErrorIs(t, err, encrypted.ErrDecrypt)
	})
	t.Run("rotation", testRotation)
	t.Run("plaintext written before encryption is read only by the migration, then encrypted", testPlaintextMigration)
}

// testRotation: a record sealed with an old key reads while that key is
// configured, and its next write re-seals it with the newest.
func testRotation(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	old, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	c := sealedConn("shop-3")
	require.NoError(t, old.Save(ctx, c))
	rotated, err := newStore(inner, tokenKey("k2", 2), tokenKey("k1", 1))
	require.NoError(t, err)
	got, err := rotated.Load(ctx, "qonto", "shop-3")
	require.NoError(t, err, "old key still decrypts")
	require.NoError(t, rotated.Save(ctx, got))
	raw, err := inner.Load(ctx, "qonto", "shop-3")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(raw.AccessToken.Reveal(), "olk2:k2:"), "re-encrypted with the newest key on write")
	newOnly, err := newStore(inner, tokenKey("k2", 2))
	require.NoError(t, err)
	_, err = newOnly.Load(ctx, "qonto", "shop-3")
	require.NoError(t, err)
	k1Only, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	_, err = k1Only.Load(ctx, "qonto", "shop-3")
	assert.ErrorIs(t, err, encrypted.ErrDecrypt)
}

// testPlaintextMigration: a record written before encryption is refused,
// except by the migration store, whose write seals it.
func testPlaintextMigration(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	c := sealedConn("shop-4")
	require.NoError(t, inner.Save(ctx, c))
	strict, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	_, err = strict.Load(ctx, "qonto", "shop-4")
	require.ErrorIs(t, err, encrypted.ErrDecrypt, "a planted plaintext cannot be told from an old one")
	s, err := encrypted.New(inner, encrypted.Options{
		Keys: []encrypted.Key{tokenKey("k1", 1)}, MigratePlaintext: true})
	require.NoError(t, err)
	got, err := s.Load(ctx, "qonto", "shop-4")
	require.NoError(t, err)
	assert.Equal(t, c.AccessToken, got.AccessToken)
	require.NoError(t, s.Save(ctx, got))
	raw, _ := inner.Load(ctx, "qonto", "shop-4")
	assert.NotContains(t, raw.AccessToken.Reveal(), "PLAINTEXT")
	got, err = strict.Load(ctx, "qonto", "shop-4")
	require.NoError(t, err, "encrypted by the migration's write")
	assert.Equal(t, c.AccessToken, got.AccessToken)
}

// Retired grants' tokens are secrets too: sealed at rest like the
// connection's own tokens, bound to their row and field.
func TestRetiredTokens(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	s, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	c := withRetired("shop-1")
	want := slices.Clone(c.Retired)
	require.NoError(t, s.Save(ctx, c))
	assert.Equal(t, want, c.Retired, "the caller keeps its plaintext")

	raw, err := inner.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	require.Len(t, raw.Retired, len(want))
	for i, r := range raw.Retired[:2] {
		assert.True(t, strings.HasPrefix(r.Token.Reveal(), "olk2:k1:"), "retired token %d is sealed", i)
		assert.NotContains(t, r.Token.Reveal(), "PLAINTEXT", "retired token %d", i)
		assert.Equal(t, want[i].Kind, r.Kind, "the kind is kept as is")
		assert.True(t, want[i].Since.Equal(r.Since))
	}
	assert.Empty(t, raw.Retired[2].Token.Reveal(), "an empty token stays empty")

	got, err := s.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, want, got.Retired, "Load opens every retired token, in order")
	list, err := s.List(ctx, "shop-1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, want, list[0].Retired, "List opens them too")

	// A ciphertext moved into or out of the retired list, or between
	// records, fails to open.
	require.NoError(t, s.Save(ctx, withRetired("shop-2")))
	swaps := map[string]func(own, other *store.Connection){
		"access token into retired":  func(own, _ *store.Connection) { own.Retired[0].Token = own.AccessToken },
		"retired into refresh token": func(own, _ *store.Connection) { own.RefreshToken = own.Retired[0].Token },
		"retired of another record":  func(own, other *store.Connection) { own.Retired[1].Token = other.Retired[1].Token },
	}
	for name, swap := range swaps {
		t.Run(name, func(t *testing.T) {
			inner := memstore.New()
			s, err := newStore(inner, tokenKey("k1", 1))
			require.NoError(t, err)
			require.NoError(t, s.Save(ctx, withRetired("shop-1")))
			require.NoError(t, s.Save(ctx, withRetired("shop-2")))
			own, err := inner.Load(ctx, "qonto", "shop-1")
			require.NoError(t, err)
			other, err := inner.Load(ctx, "qonto", "shop-2")
			require.NoError(t, err)
			swap(own, other)
			require.NoError(t, inner.Save(ctx, own))
			_, err = s.Load(ctx, "qonto", "shop-1")
			require.ErrorIs(t, err, encrypted.ErrDecrypt)
			assert.NotContains(t, err.Error(), "PLAINTEXT")
		})
	}

	t.Run("plaintext written before encryption is read by the migration, then encrypted", testRetiredPlaintextMigration)
}

// withRetired is sealedConn with three retired grants, the last without a
// token.
func withRetired(owner string) *store.Connection {
	since := time.Date(2030, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	c := sealedConn(owner)
	c.Retired = []store.RetiredToken{
		{Token: "ory_rt_PLAINTEXT_OLD1", Kind: "refresh_token", Since: since},
		{Token: "ory_at_PLAINTEXT_OLD2", Kind: "access_token", Since: since.Add(time.Hour)},
		{Token: "", Kind: "refresh_token", Since: since.Add(2 * time.Hour)},
	}
	return c
}

func testRetiredPlaintextMigration(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	c := withRetired("shop-3")
	require.NoError(t, inner.Save(ctx, c))
	s, err := encrypted.New(inner, encrypted.Options{
		Keys: []encrypted.Key{tokenKey("k1", 1)}, MigratePlaintext: true})
	require.NoError(t, err)
	got, err := s.Load(ctx, "qonto", "shop-3")
	require.NoError(t, err)
	assert.Equal(t, c.Retired, got.Retired)
	require.NoError(t, s.Save(ctx, got))
	raw, err := inner.Load(ctx, "qonto", "shop-3")
	require.NoError(t, err)
	for _, r := range raw.Retired {
		assert.NotContains(t, r.Token.Reveal(), "PLAINTEXT")
	}
}

func TestNewErrors(t *testing.T) {
	for name, keys := range map[string][]encrypted.Key{
		"none":      nil,
		"short key": {{ID: "k", Key: make([]byte, 16)}},
		"bad id":    {{ID: "k:1", Key: make([]byte, 32)}},
		"dup id":    {tokenKey("k", 1), tokenKey("k", 2)},
	} {
		s, err := newStore(memstore.New(), keys...)
		assert.ErrorContains(t, err, "oauthlink: encrypted.New", name)
		assert.Nil(t, s, name)
	}
	_, err := encrypted.New(nil, encrypted.Options{Keys: []encrypted.Key{tokenKey("k", 1)}})
	assert.ErrorContains(t, err, "needs a store")
}
