package oauthlink_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// A Connector on a store wrapped by package encrypted: what the wrapper
// itself guarantees is tested in that package.

func tokenKey(id string, b byte) encrypted.Key {
	return encrypted.Key{ID: id, Key: bytes.Repeat([]byte{b}, 32)}
}

// An encrypting store: a real flow and refresh store only ciphertext, and the
// store's capabilities (lock, replay guard) still work through the wrapper.
func TestConnectorEncryptsTokens(t *testing.T) {
	inner := memstore.New()
	e := newEnv(t, withStore(sealedOver(t, inner, tokenKey("k1", 7))))
	b := e.browser("shop-1")
	cb := b.authorize("qonto", "")
	saved := b.cookieHeader()
	require.Equal(t, http.StatusSeeOther, b.get(cb).Status)
	raw, err := inner.Load(context.Background(), "qonto", "shop-1")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(raw.AccessToken.Reveal(), "olk2:k1:"))
	conn, err := e.links["qonto"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.True(t, e.qonto.AccessTokenValid(conn.AccessToken.Reveal()))

	// Another instance on the same store refuses the replayed callback
	// before any token call: the memstore's replay guard is found through
	// the encrypting wrapper (an instance-local guard would let it reach
	// the provider, which answers invalid_grant: 502).
	f := e.fakes["qonto"]
	second, err := oauthlink.New(oauthlink.Config{Provider: f.Provider(), ClientID: f.ClientID(), ClientSecret: f.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/qonto/callback", Store: sealedOver(t, inner, tokenKey("k1", 7)), Owner: ownerFromCookie,
		CookieSecrets: [][]byte{e.secret}, HTTPClient: f.Client(), Now: e.clk.Now})
	require.NoError(t, err)
	e.mux.Handle("/second/qonto/callback", second.CallbackHandler())
	calls := e.qonto.Calls(oauthlinktest.EndpointToken)
	replay := e.browser("").do(http.MethodGet, strings.Replace(cb, "/connect/qonto/", "/second/qonto/", 1), http.Header{"Cookie": {saved}})
	assert.Equal(t, http.StatusBadRequest, replay.Status)
	assert.Equal(t, calls, e.qonto.Calls(oauthlinktest.EndpointToken))
}

// The Connector hands out no planted token: Connection refuses the record
// before any use of it.
func TestConnectorRefusesPlantedToken(t *testing.T) {
	inner := memstore.New()
	e := newEnv(t, withStore(sealedOver(t, inner, tokenKey("k1", 7))))
	e.connected("qonto", "shop-1")
	raw, err := inner.Load(context.Background(), "qonto", "shop-1")
	require.NoError(t, err)
	raw.AccessToken = "ory_at_PLANTED_by_a_db_writer"
	raw.Expiry = e.clk.Now().Add(24 * time.Hour)
	require.NoError(t, inner.Save(context.Background(), raw)) // what an UPDATE by a database writer does

	conn, err := e.links["qonto"].Connection(context.Background(), "shop-1")
	require.ErrorIs(t, err, encrypted.ErrDecrypt)
	assert.Nil(t, conn)
	assert.NotContains(t, err.Error(), "PLANTED")
	assert.NotContains(t, e.logs.String(), "PLANTED")
}

// The documented migration for an app that stored tokens unencrypted:
// reseal through a MigratePlaintext store, then run on the encrypting store.
func TestConnectorPlaintextMigration(t *testing.T) {
	inner := memstore.New()
	e := newEnv(t, withStore(inner)) // not wrapped: stored unencrypted
	e.connected("qonto", "shop-1")
	raw, err := inner.Load(context.Background(), "qonto", "shop-1")
	require.NoError(t, err)
	require.False(t, strings.HasPrefix(raw.AccessToken.Reveal(), "olk"))

	migrating, err := encrypted.New(inner, encrypted.Options{Keys: []encrypted.Key{tokenKey("k1", 7)}, MigratePlaintext: true})
	require.NoError(t, err)
	n, err := encrypted.Reseal(context.Background(), migrating, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	f := e.fakes["qonto"]
	sealed := sealedOver(t, inner, tokenKey("k1", 7))
	c, err := oauthlink.New(oauthlink.Config{Provider: f.Provider(), ClientID: f.ClientID(), ClientSecret: f.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/qonto/callback", Store: sealed, Owner: ownerFromCookie,
		CookieSecrets: [][]byte{e.secret}, HTTPClient: f.Client(), Now: e.clk.Now})
	require.NoError(t, err)
	conn, err := c.Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Equal(t, raw.AccessToken, conn.AccessToken)
	assert.True(t, e.qonto.AccessTokenValid(conn.AccessToken.Reveal()))

	// The encrypting store the Connector uses: Reseal accepts it, and
	// finds nothing left to do.
	n, err = encrypted.Reseal(context.Background(), sealed, "shop-1")
	require.NoError(t, err)
	assert.Zero(t, n)
}

// decorated is an app's own store decorator, which exposes what it wraps.
type decorated struct{ store.TokenStore }

func (d decorated) Unwrap() store.TokenStore { return d.TokenStore }

// New warns about tokens stored unencrypted unless a store made by
// encrypted.New is somewhere in the store's Unwrap chain.
func TestPlaintextWarning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) store.TokenStore
		warns bool
	}{
		{"plain", func(*testing.T) store.TokenStore { return memstore.New() }, true},
		{"decorated plain", func(*testing.T) store.TokenStore { return decorated{memstore.New()} }, true},
		{"encrypted", func(t *testing.T) store.TokenStore { return encryptedMemstore(t, tokenKey("k1", 7)) }, false},
		{"decorated encrypted", func(t *testing.T) store.TokenStore {
			return decorated{encryptedMemstore(t, tokenKey("k1", 7))}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oauthlink.ResetPlaintextWarning()
			e := newEnv(t, withStore(tc.store(t)))
			assert.Equal(t, tc.warns, strings.Contains(e.logs.String(), "does not encrypt tokens at rest"), e.logs.String())
		})
	}
}
