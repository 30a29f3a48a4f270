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
)

// What a database writer without the key can do to an encrypted store:
// nothing it plants, moves or changes in a sealed record is handed to the
// app.

// fullConn is a connection with every sealed field and every piece of
// authenticated metadata set, including two retired grants.
func fullConn(owner string) *store.Connection {
	c := sealedConn(owner)
	c.AccountID = "org_1"
	c.TokenType = "Bearer"
	c.Expiry = time.Date(2030, 5, 6, 8, 0, 0, 0, time.UTC)
	c.Scopes = []string{"offline_access", "organization.read"}
	c.RedirectURI = "https://app.example/connect/qonto/callback"
	since := time.Date(2030, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	c.Retired = []store.RetiredToken{
		{Token: "ory_rt_PLAINTEXT_OLD1", Kind: "refresh_token", Since: since},
		{Token: "ory_at_PLAINTEXT_OLD2", Kind: "access_token", Since: since.Add(time.Hour)},
	}
	return c
}

// plant writes raw, as it is, into the inner store: what an UPDATE by a
// database writer does.
func plant(t *testing.T, inner store.TokenStore, raw *store.Connection) {
	t.Helper()
	require.NoError(t, inner.Save(context.Background(), raw))
}

// refused checks that both Load and List refuse the record with an error
// wrapping ErrDecrypt that names the connection and the field and carries
// none of the secrets, and that the refusal changed nothing stored.
func refused(t *testing.T, s, inner store.TokenStore, owner, field string, secrets ...string) {
	t.Helper()
	ctx := context.Background()
	before, err := inner.Load(ctx, "qonto", owner)
	require.NoError(t, err)
	got, err := s.Load(ctx, "qonto", owner)
	require.ErrorIs(t, err, encrypted.ErrDecrypt)
	assert.Nil(t, got)
	for _, want := range []string{`"qonto"`, `"` + owner + `"`, field} {
		assert.Contains(t, err.Error(), want, "the error names the connection and the field")
	}
	for _, v := range append(secrets, "PLAINTEXT", "PLANTED") {
		assert.NotContains(t, err.Error(), v, "the error never carries a value")
	}
	list, err := s.List(ctx, owner)
	require.ErrorIs(t, err, encrypted.ErrDecrypt)
	assert.Nil(t, list)
	after, err := inner.Load(ctx, "qonto", owner)
	require.NoError(t, err)
	assert.Equal(t, before.Version, after.Version, "reading changes nothing")
}

// With keys configured a value without the seal prefix is not read as
// plaintext: a database writer cannot plant a token of its choice, neither
// in a record written before encryption was enabled nor next to sealed
// values.
func TestRefusesPlaintext(t *testing.T) {
	ctx := context.Background()
	fields := map[string]func(c *store.Connection, v store.Secret){
		"access_token":  func(c *store.Connection, v store.Secret) { c.AccessToken = v },
		"refresh_token": func(c *store.Connection, v store.Secret) { c.RefreshToken = v },
		"extra":         func(c *store.Connection, v store.Secret) { c.Extra = v },
		"retired[1]":    func(c *store.Connection, v store.Secret) { c.Retired[1].Token = v },
	}
	for field, set := range fields {
		t.Run(field+" planted in a sealed record", func(t *testing.T) {
			inner := memstore.New()
			s, err := newStore(inner, tokenKey("k1", 1))
			require.NoError(t, err)
			require.NoError(t, s.Save(ctx, fullConn("shop-1")))
			raw, err := inner.Load(ctx, "qonto", "shop-1")
			require.NoError(t, err)
			set(raw, "ory_PLANTED_by_a_db_writer")
			plant(t, inner, raw)
			refused(t, s, inner, "shop-1", field, "ory_PLANTED_by_a_db_writer")
		})
	}
	t.Run("a record stored unencrypted", func(t *testing.T) {
		inner := memstore.New()
		plant(t, inner, fullConn("shop-2"))
		s, err := newStore(inner, tokenKey("k1", 1))
		require.NoError(t, err)
		refused(t, s, inner, "shop-2", "access_token", "ory_at_PLAINTEXT_A", "ory_rt_PLAINTEXT_R")
		_, err = s.Load(ctx, "qonto", "shop-2")
		assert.ErrorContains(t, err, "MigratePlaintext", "the error says how to migrate")
	})
	t.Run("only a retired token unencrypted", func(t *testing.T) {
		inner := memstore.New()
		c := &store.Connection{Provider: "qonto", Owner: "shop-3", Status: store.StatusDisconnected,
			Retired: []store.RetiredToken{{Token: "ory_rt_PLANTED", Kind: "refresh_token"}}}
		plant(t, inner, c)
		s, err := newStore(inner, tokenKey("k1", 1))
		require.NoError(t, err)
		refused(t, s, inner, "shop-3", "retired[0]", "ory_rt_PLANTED")
	})
	t.Run("a record without tokens still reads", func(t *testing.T) {
		inner := memstore.New()
		plant(t, inner, &store.Connection{Provider: "qonto", Owner: "shop-4", Status: store.StatusReauthRequired})
		s, err := newStore(inner, tokenKey("k1", 1))
		require.NoError(t, err)
		got, err := s.Load(ctx, "qonto", "shop-4")
		require.NoError(t, err, "nothing to decrypt, nothing planted")
		assert.Equal(t, store.StatusReauthRequired, got.Status)
	})
}

// The metadata that decides how a token is used (status, expiry, redirect
// URI, account, scopes, token type) and the retired grants' list are
// authenticated with the sealed values: a record changed outside oauthlink
// is refused. Version and the timestamps change on every write and are
// not bound.
func TestAuthenticatesMetadata(t *testing.T) {
	ctx := context.Background()
	changes := map[string]func(c *store.Connection){
		"status":             func(c *store.Connection) { c.Status = store.StatusActive },
		"expiry":             func(c *store.Connection) { c.Expiry = c.Expiry.Add(30 * 24 * time.Hour) },
		"expiry zeroed":      func(c *store.Connection) { c.Expiry = time.Time{} },
		"redirect_uri":       func(c *store.Connection) { c.RedirectURI = "https://attacker.example/cb" },
		"account id":         func(c *store.Connection) { c.AccountID = "org_attacker" },
		"scopes":             func(c *store.Connection) { c.Scopes = append(c.Scopes, "payments.write") },
		"scopes dropped":     func(c *store.Connection) { c.Scopes = nil },
		"token type":         func(c *store.Connection) { c.TokenType = "MAC" },
		"retired kind":       func(c *store.Connection) { c.Retired[0].Kind = "access_token" },
		"retired account":    func(c *store.Connection) { c.Retired[1].AccountID = "acct_attacker" },
		"retired since":      func(c *store.Connection) { c.Retired[0].Since = c.Retired[0].Since.Add(time.Hour) },
		"retired dropped":    func(c *store.Connection) { c.Retired = c.Retired[:1] },
		"retired reordered":  func(c *store.Connection) { slices.Reverse(c.Retired) },
		"retired emptied":    func(c *store.Connection) { c.Retired[1].Token = "" },
		"access token gone":  func(c *store.Connection) { c.AccessToken = "" },
		"refresh token gone": func(c *store.Connection) { c.RefreshToken = "" },
		"extra gone":         func(c *store.Connection) { c.Extra = "" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			inner := memstore.New()
			s, err := newStore(inner, tokenKey("k1", 1))
			require.NoError(t, err)
			c := fullConn("shop-1")
			c.Status = store.StatusReauthRequired
			require.NoError(t, s.Save(ctx, c))
			raw, err := inner.Load(ctx, "qonto", "shop-1")
			require.NoError(t, err)
			change(raw)
			plant(t, inner, raw)
			_, err = s.Load(ctx, "qonto", "shop-1")
			require.ErrorIs(t, err, encrypted.ErrDecrypt)
			assert.Contains(t, err.Error(), `"qonto"`)
			assert.Contains(t, err.Error(), `"shop-1"`)
			assert.NotContains(t, err.Error(), "PLAINTEXT")
		})
	}
	t.Run("version and timestamps are not bound", func(t *testing.T) {
		inner := memstore.New()
		s, err := newStore(inner, tokenKey("k1", 1))
		require.NoError(t, err)
		c := fullConn("shop-1")
		require.NoError(t, s.Save(ctx, c))
		raw, err := inner.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
		plant(t, inner, raw) // a new version and UpdatedAt, same values
		got, err := s.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Version)
		assert.Equal(t, c.AccessToken, got.AccessToken)
		assert.Equal(t, c.Retired, got.Retired)
	})
	t.Run("sub-millisecond times round-trip", func(t *testing.T) {
		// A store keeps times to the millisecond: what Save binds must be
		// what Load reads back, whatever precision the caller had.
		inner := memstore.New()
		s, err := newStore(inner, tokenKey("k1", 1))
		require.NoError(t, err)
		c := fullConn("shop-1")
		c.Expiry = c.Expiry.Add(999_999 * time.Nanosecond)
		c.Retired[0].Since = c.Retired[0].Since.Add(1)
		require.NoError(t, s.Save(ctx, c))
		raw, err := inner.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
		raw.Expiry = raw.Expiry.Truncate(time.Millisecond) // as a millisecond store keeps it
		raw.Retired[0].Since = raw.Retired[0].Since.Truncate(time.Millisecond)
		plant(t, inner, raw)
		_, err = s.Load(ctx, "qonto", "shop-1")
		require.NoError(t, err)
	})
}

// Values sealed by the previous format ("olk1:", whose associated data
// bound only the provider, the owner and the field) still read, and the
// next write upgrades them to the current format, after which the metadata
// is authenticated. These ciphertexts were written by that format with
// tokenKey("k1", 1) for fullOldConn.
const (
	oldAccess  = "olk1:k1:fZhX6zDnqCL9S9wXXk6px6f5lOXOMrJMiLQi3eVu6phgMgqNkYMmoqE0tqSung"
	oldRefresh = "olk1:k1:GMJhe39Gw/gfUwCSbIdkMoNIBxU60YjutlcjTh7iVg9qZ578XJBZ9osyk13CfQ"
	oldExtra   = "olk1:k1:LIAb9i3er6/NGp2uyde76dRjmB91zR0F5ItRHUZEHWjM4Mb/quFdl6Ovmdntid0VYnIvIdTcwg"
	oldRetired = "olk1:k1:ZWlQbMshAOicRP6vauE1NkhUZr7li7yc59rE/zGc/jQTOSn/HTE42lF329aQxvpp"
)

func fullOldConn() *store.Connection {
	c := sealedConn("shop-v1")
	c.AccessToken, c.RefreshToken, c.Extra = oldAccess, oldRefresh, oldExtra
	c.Retired = []store.RetiredToken{{Token: oldRetired, Kind: "refresh_token",
		Since: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	return c
}

func TestReadsPreviousFormat(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	plant(t, inner, fullOldConn())
	s, err := newStore(inner, tokenKey("k1", 1))
	require.NoError(t, err)
	got, err := s.Load(ctx, "qonto", "shop-v1")
	require.NoError(t, err, "the previous format still reads")
	want := sealedConn("shop-v1")
	assert.Equal(t, want.AccessToken, got.AccessToken)
	assert.Equal(t, want.RefreshToken, got.RefreshToken)
	assert.Equal(t, want.Extra, got.Extra)
	require.Len(t, got.Retired, 1)
	assert.Equal(t, store.Secret("ory_rt_PLAINTEXT_OLD"), got.Retired[0].Token)

	require.NoError(t, s.Save(ctx, got))
	raw, err := inner.Load(ctx, "qonto", "shop-v1")
	require.NoError(t, err)
	for _, v := range []store.Secret{raw.AccessToken, raw.RefreshToken, raw.Extra, raw.Retired[0].Token} {
		assert.True(t, strings.HasPrefix(v.Reveal(), "olk2:k1:"), "upgraded on the next write")
	}
	again, err := s.Load(ctx, "qonto", "shop-v1")
	require.NoError(t, err)
	assert.Equal(t, want.AccessToken, again.AccessToken)

	current := func(t *testing.T) *store.Connection {
		t.Helper()
		cur, err := inner.Load(ctx, "qonto", "shop-v1")
		require.NoError(t, err)
		cur.Status = raw.Status // undo an earlier subtest's change
		return cur
	}
	t.Run("upgraded records authenticate their metadata", func(t *testing.T) {
		tampered := current(t)
		tampered.Status = store.StatusDisconnected
		plant(t, inner, tampered)
		_, err := s.Load(ctx, "qonto", "shop-v1")
		require.ErrorIs(t, err, encrypted.ErrDecrypt)
	})
	t.Run("a previous-format value put back into an upgraded record", func(t *testing.T) {
		// The old refresh token of this very row, restored next to
		// current-format values (a partial rollback), is refused.
		rolled := current(t)
		rolled.RefreshToken = oldRefresh
		plant(t, inner, rolled)
		_, err := s.Load(ctx, "qonto", "shop-v1")
		require.ErrorIs(t, err, encrypted.ErrDecrypt)
		assert.Contains(t, err.Error(), "refresh_token")
	})
}

// A retired grant's AccountID (which a per-account revocation such as
// Stripe's deauthorize acts on) is bound like its kind: changed or cut,
// the record no longer decrypts; one saved with it reads back with it.
func TestAuthenticatesRetiredAccount(t *testing.T) {
	ctx := context.Background()
	for name, change := range map[string]func(c *store.Connection){
		"changed": func(c *store.Connection) { c.Retired[0].AccountID = "acct_attacker" },
		"cut":     func(c *store.Connection) { c.Retired[0].AccountID = "" },
		"moved":   func(c *store.Connection) { c.Retired[0].AccountID, c.Retired[1].AccountID = "", c.Retired[0].AccountID },
	} {
		t.Run(name, func(t *testing.T) {
			inner := memstore.New()
			s, err := newStore(inner, tokenKey("k1", 1))
			require.NoError(t, err)
			c := fullConn("shop-1")
			c.Retired[0].AccountID = "acct_1Nv0FGQ9RKHgCVdK"
			require.NoError(t, s.Save(ctx, c))
			got, err := s.Load(ctx, "qonto", "shop-1")
			require.NoError(t, err)
			assert.Equal(t, "acct_1Nv0FGQ9RKHgCVdK", got.Retired[0].AccountID)
			assert.Empty(t, got.Retired[1].AccountID)

			raw, err := inner.Load(ctx, "qonto", "shop-1")
			require.NoError(t, err)
			change(raw)
			plant(t, inner, raw)
			_, err = s.Load(ctx, "qonto", "shop-1")
			require.ErrorIs(t, err, encrypted.ErrDecrypt)
		})
	}
}
