package encrypted_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/storetest"
)

func migratingStore(t *testing.T, inner store.TokenStore, keys ...encrypted.Key) store.TokenStore {
	t.Helper()
	s, err := encrypted.New(inner, encrypted.Options{Keys: keys, MigratePlaintext: true})
	require.NoError(t, err)
	return s
}

// The migration store is a TokenStore like any other, and writes only
// ciphertext.
func TestMigratingConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.TokenStore {
		return migratingStore(t, memstore.New(), tokenKey("k1", 1))
	})
}

// The migration mode reads a record written before encryption was enabled
// and its next write seals it; it still refuses a record that mixes
// unencrypted and sealed values, which no oauthlink write produces.
func TestMigratePlaintext(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	plant(t, inner, fullConn("shop-1"))
	s := migratingStore(t, inner, tokenKey("k1", 1))
	got, err := s.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	want := fullConn("shop-1")
	assert.Equal(t, want.AccessToken, got.AccessToken)
	assert.Equal(t, want.Retired, got.Retired)
	list, err := s.List(ctx, "shop-1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, want.RefreshToken, list[0].RefreshToken)

	require.NoError(t, s.Save(ctx, got))
	raw, err := inner.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	for _, v := range []store.Secret{raw.AccessToken, raw.RefreshToken, raw.Extra, raw.Retired[0].Token, raw.Retired[1].Token} {
		assert.True(t, strings.HasPrefix(v.Reveal(), "olk2:k1:"), "sealed by the next write")
	}
	strict, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	again, err := strict.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, want.AccessToken, again.AccessToken)

	t.Run("plaintext next to sealed values is refused", func(t *testing.T) {
		raw, err := inner.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
		raw.AccessToken = "ory_at_PLANTED"
		plant(t, inner, raw)
		refused(t, s, inner, "shop-1", "access_token", "ory_at_PLANTED")
	})
}

// Reseal finishes a plaintext migration, a format upgrade and a
// key rotation in one pass, and rewrites nothing that is already current.
func TestReseal(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	plant(t, inner, fullConn("plain"))
	plant(t, inner, fullOldConn()) // owner shop-v1, previous format
	oldKey, err := newStore(inner, tokenKey("k0", 9))
	require.NoError(t, err)
	require.NoError(t, oldKey.Save(ctx, fullConn("old-key")))
	current, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	require.NoError(t, current.Save(ctx, fullConn("current")))
	plant(t, inner, &store.Connection{Provider: "qonto", Owner: "no-tokens", Status: store.StatusReauthRequired})
	owners := []string{"plain", "shop-v1", "old-key", "current", "no-tokens", "nobody"}
	versions := func() map[string]int64 {
		v := map[string]int64{}
		for _, o := range owners[:5] {
			c, err := inner.Load(ctx, "qonto", o)
			require.NoError(t, err)
			v[o] = c.Version
		}
		return v
	}
	before := versions()

	s := migratingStore(t, inner, tokenKey("k1", 1), tokenKey("k0", 9))
	n, err := encrypted.Reseal(ctx, s, owners...)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "plain, shop-v1 and old-key")
	after := versions()
	assert.Equal(t, before["current"], after["current"], "a current record is not rewritten")
	assert.Equal(t, before["no-tokens"], after["no-tokens"], "nor one without tokens")
	assert.Equal(t, before["plain"]+1, after["plain"])

	onlyNew, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	for _, o := range owners[:4] {
		raw, err := inner.Load(ctx, "qonto", o)
		require.NoError(t, err)
		for _, v := range []store.Secret{raw.AccessToken, raw.RefreshToken, raw.Extra} {
			assert.True(t, strings.HasPrefix(v.Reveal(), "olk2:k1:"), "%s is current", o)
		}
		got, err := onlyNew.Load(ctx, "qonto", o)
		require.NoError(t, err, "%s reads without the old key and without the migration", o)
		assert.Equal(t, sealedConn(o).AccessToken, got.AccessToken)
		assert.Equal(t, sealedConn(o).RefreshToken, got.RefreshToken)
	}
	n, err = encrypted.Reseal(ctx, s, owners...)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to reseal")
}

// Without the migration mode an unencrypted record is reported, named,
// and left as it is; the other records are still resealed.
func TestResealRefusesPlaintext(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	plant(t, inner, fullConn("plain"))
	plant(t, inner, fullOldConn())
	strict, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	n, err := encrypted.Reseal(ctx, strict, "plain", "shop-v1")
	require.ErrorIs(t, err, encrypted.ErrDecrypt)
	assert.Contains(t, err.Error(), `"qonto"/"plain"`)
	assert.NotContains(t, err.Error(), "PLAINTEXT")
	assert.Equal(t, 1, n, "the previous-format record is still upgraded")
	raw, err := inner.Load(ctx, "qonto", "plain")
	require.NoError(t, err)
	assert.Equal(t, int64(1), raw.Version, "left as it is")
	assert.Equal(t, fullConn("plain").AccessToken, raw.AccessToken)
}

func TestResealNeedsEncryptedStore(t *testing.T) {
	_, err := encrypted.Reseal(context.Background(), memstore.New(), "shop-1")
	require.ErrorContains(t, err, "needs a store made by encrypted.New")
}

// Reseal takes the connection's lease, as every oauthlink
// writer that may race a refresh does: while a refresh holds it, the
// record is not touched.
func TestResealWaitsForTheLease(t *testing.T) {
	inner := memstore.New()
	plant(t, inner, fullConn("shop-1"))
	s := migratingStore(t, inner, tokenKey("k1", 1))
	lease, err := inner.Lock(context.Background(), "qonto", "shop-1", time.Minute)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n, err := encrypted.Reseal(ctx, s, "shop-1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, n)
	raw, err := inner.Load(context.Background(), "qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), raw.Version, "untouched while the lease is held")

	lease.Release()
	n, err = encrypted.Reseal(context.Background(), s, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// racingStore is a store without Locker on which another writer saves the
// record right after Reseal read it, once.
type racingStore struct {
	store.TokenStore
	once sync.Once
	race func()
}

func (r *racingStore) Load(ctx context.Context, provider, owner string) (*store.Connection, error) {
	c, err := r.TokenStore.Load(ctx, provider, owner)
	r.once.Do(r.race)
	return c, err
}

// Without a lease, a write that lands between the read and the write is
// never overwritten: the compare-and-swap fails and the record is read
// again.
func TestResealRereadsAfterAConflict(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	plant(t, mem, fullConn("shop-1"))
	rs := &racingStore{TokenStore: mem}
	rs.race = func() {
		c, err := mem.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
		c.AccessToken = "ory_at_PLAINTEXT_NEWER" // an app instance still writing unencrypted
		require.NoError(t, mem.Save(ctx, c))
	}
	s := migratingStore(t, rs, tokenKey("k1", 1))
	n, err := encrypted.Reseal(ctx, s, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	strict, err := newStore(mem, tokenKey("k1", 1))
	require.NoError(t, err)
	got, err := strict.Load(ctx, "qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.Secret("ory_at_PLAINTEXT_NEWER"), got.AccessToken, "the newer write is the one sealed")
	assert.Equal(t, int64(3), got.Version)
}
