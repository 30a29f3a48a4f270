package oauthlink_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// events records the kinds a Connector emits.
type events struct {
	mu    sync.Mutex
	kinds []oauthlink.EventKind
}

func (ev *events) config(c *oauthlink.Config) {
	c.Hooks.OnEvent = func(_ context.Context, e oauthlink.Event) {
		ev.mu.Lock()
		ev.kinds = append(ev.kinds, e.Kind)
		ev.mu.Unlock()
	}
}

func (ev *events) count(k oauthlink.EventKind) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	n := 0
	for _, got := range ev.kinds {
		if got == k {
			n++
		}
	}
	return n
}

// failRevocations makes the next revocation requests at f answer 503, one
// fault per attempt of a default retry budget (Config.RefreshAttempts).
func failRevocations(f fake) {
	for range 4 {
		f.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable})
	}
}

// A reconnect replaces the owner's grant; the replaced grant is revoked at
// the provider right after the new one is committed, and nothing is left
// to retire.
func TestReconnectRevokesReplacedGrant(t *testing.T) {
	// Stripe: each connect approves a new account by default, so the
	// replaced grant is another account's, which is deauthorized.
	for _, provider := range []string{"mollie", "qonto", "stripe"} {
		t.Run(provider, func(t *testing.T) {
			e := newEnv(t, withFake("stripe"))
			f := e.fakes[provider]
			old := e.connected(provider, "shop-1")
			cur := e.connected(provider, "shop-1")

			assert.NotEqual(t, old.RefreshToken, cur.RefreshToken)
			assert.False(t, f.RefreshTokenValid(old.RefreshToken.Reveal()), "the replaced grant is revoked")
			assert.False(t, f.AccessTokenValid(old.AccessToken.Reveal()), "with its access token")
			assert.True(t, f.RefreshTokenValid(cur.RefreshToken.Reveal()), "the new grant is not")
			assert.True(t, f.AccessTokenValid(cur.AccessToken.Reveal()))
			assert.Equal(t, 1, f.Revocations())
			assert.Equal(t, store.StatusActive, cur.Status)
			assert.Empty(t, cur.Retired, "the revocation was confirmed")
			assert.Equal(t, old.CreatedAt, cur.CreatedAt, "the same connection, reconnected")
		})
	}
}

// While the revocation endpoint is down, the replaced grant stays in the
// new record's Retired list (written with the new grant), is reported,
// and a later Disconnect revokes it along with the connection's own.
func TestReconnectKeepsUnrevokedGrantInRetired(t *testing.T) {
	var ev events
	e := newEnv(t, withConfig(ev.config))
	old := e.connected("mollie", "shop-1")
	failRevocations(e.mollie)
	at := e.clk.Now()
	cur := e.connected("mollie", "shop-1")

	require.Len(t, cur.Retired, 1, "the replaced grant waits in Retired")
	assert.Equal(t, old.RefreshToken, cur.Retired[0].Token)
	assert.Equal(t, "refresh_token", cur.Retired[0].Kind)
	assert.True(t, at.Equal(cur.Retired[0].Since), "retired at the commit: %v", cur.Retired[0].Since)
	assert.True(t, e.mollie.RefreshTokenValid(old.RefreshToken.Reveal()), "still live at the provider")
	assert.Equal(t, store.StatusActive, cur.Status, "the reconnect itself succeeded")
	assert.Equal(t, 1, ev.count(oauthlink.EventRevokeFailed))
	assert.NotContains(t, e.logs.String(), old.RefreshToken.Reveal())
	assert.Contains(t, e.logs.String(), "Connection.Retired")

	require.NoError(t, e.links["mollie"].Disconnect(context.Background(), "shop-1"))
	assert.False(t, e.mollie.RefreshTokenValid(old.RefreshToken.Reveal()), "the retired grant is revoked")
	assert.False(t, e.mollie.RefreshTokenValid(cur.RefreshToken.Reveal()), "and the connection's own")
	_, err := e.load("mollie", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "deleted once both were confirmed")
}

// revokeRetired (which the refresh engine calls after a refresh) retries
// what a reconnect could not revoke, and removes only what the provider
// confirmed.
func TestRevokeRetiredRetries(t *testing.T) {
	var ev events
	e := newEnv(t, withConfig(ev.config))
	link := e.links["qonto"]
	old := e.connected("qonto", "shop-1")
	failRevocations(e.qonto)
	cur := e.connected("qonto", "shop-1")
	require.Len(t, cur.Retired, 1)

	failRevocations(e.qonto)
	err := oauthlink.RevokeRetired(link, context.Background(), "shop-1")
	require.Error(t, err)
	var te *oauthlink.ProviderError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Temporary())
	assert.NotContains(t, err.Error(), old.RefreshToken.Reveal())
	stored, lerr := e.load("qonto", "shop-1")
	require.NoError(t, lerr)
	assert.Equal(t, cur.Retired, stored.Retired, "kept for the next attempt")
	assert.Equal(t, cur.Version, stored.Version, "nothing written")
	assert.Equal(t, 2, ev.count(oauthlink.EventRevokeFailed))

	require.NoError(t, oauthlink.RevokeRetired(link, context.Background(), "shop-1"))
	assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))
	stored, lerr = e.load("qonto", "shop-1")
	require.NoError(t, lerr)
	assert.Empty(t, stored.Retired)
	assert.Equal(t, cur.Version+1, stored.Version, "one compare-and-swap")
	assert.Equal(t, cur.AccessToken, stored.AccessToken, "the connection is untouched")
	assert.True(t, e.qonto.RefreshTokenValid(stored.RefreshToken.Reveal()))

	calls := e.qonto.Calls(oauthlinktest.EndpointRevoke)
	require.NoError(t, oauthlink.RevokeRetired(link, context.Background(), "shop-1"), "nothing left")
	require.NoError(t, oauthlink.RevokeRetired(link, context.Background(), "nobody"), "no record")
	assert.Equal(t, calls, e.qonto.Calls(oauthlinktest.EndpointRevoke))
}

// A provider that says a retired token is already dead (invalid_token)
// has confirmed what revocation wanted.
func TestRevokeRetiredDeadTokenCountsAsRevoked(t *testing.T) {
	e := newEnv(t)
	e.connected("mollie", "shop-1")
	e.mollie.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusBadRequest,
		ContentType: "application/json", Body: `{"error":"invalid_token"}`})
	cur := e.connected("mollie", "shop-1")
	assert.Empty(t, cur.Retired)
}

// A reconnect over a disconnected record whose revocation failed keeps
// that pending revocation: the old grant is revoked by the reconnect, or
// waits in Retired while the endpoint is still down.
func TestReconnectOverFailedDisconnect(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("endpoint down at reconnect=%v", down), func(t *testing.T) {
			e := newEnv(t)
			link := e.links["qonto"]
			old := e.connected("qonto", "shop-1")
			failRevocations(e.qonto)
			require.Error(t, link.Disconnect(context.Background(), "shop-1"))
			marked, err := e.load("qonto", "shop-1")
			require.NoError(t, err)
			require.Equal(t, store.StatusDisconnected, marked.Status)
			require.True(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()), "the disconnected grant is still live")

			if down {
				failRevocations(e.qonto)
			}
			cur := e.connected("qonto", "shop-1")
			assert.Equal(t, store.StatusActive, cur.Status)
			if !down {
				assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()), "revoked by the reconnect")
				assert.Empty(t, cur.Retired)
				return
			}
			require.Len(t, cur.Retired, 1, "the pending revocation survives the reconnect")
			assert.Equal(t, old.RefreshToken, cur.Retired[0].Token)
			assert.True(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))
			require.NoError(t, link.Disconnect(context.Background(), "shop-1"))
			assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))
			assert.False(t, e.qonto.RefreshTokenValid(cur.RefreshToken.Reveal()))
		})
	}
}

// A reconnect over a connection that already had a grant waiting in
// Retired carries it over with the newly replaced one.
func TestReconnectCarriesRetiredOver(t *testing.T) {
	e := newEnv(t)
	first := e.connected("mollie", "shop-1")
	failRevocations(e.mollie)
	second := e.connected("mollie", "shop-1")
	require.Len(t, second.Retired, 1)
	failRevocations(e.mollie) // the first token tried fails: the other waits
	third := e.connected("mollie", "shop-1")
	require.Len(t, third.Retired, 2)
	assert.Equal(t, first.RefreshToken, third.Retired[0].Token)
	assert.Equal(t, second.RefreshToken, third.Retired[1].Token)

	fourth := e.connected("mollie", "shop-1")
	assert.Empty(t, fourth.Retired)
	for _, old := range []*oauthlink.Connection{first, second, third} {
		assert.False(t, e.mollie.RefreshTokenValid(old.RefreshToken.Reveal()))
	}
	assert.True(t, e.mollie.RefreshTokenValid(fourth.RefreshToken.Reveal()))
}

// Disconnect revokes the connection's grant and its retired ones; when one
// of them fails the record stays disconnected, listing only what is still
// to be revoked, and a second Disconnect finishes.
func TestDisconnectPartialRevocation(t *testing.T) {
	e := newEnv(t)
	link := e.links["mollie"]
	old := e.connected("mollie", "shop-1")
	failRevocations(e.mollie)
	cur := e.connected("mollie", "shop-1")
	require.Len(t, cur.Retired, 1)

	// The connection's own grant is revoked first, then the retired one
	// fails.
	e.mollie.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{})
	failRevocations(e.mollie)
	err := link.Disconnect(context.Background(), "shop-1")
	require.Error(t, err)
	assert.False(t, e.mollie.RefreshTokenValid(cur.RefreshToken.Reveal()))
	assert.True(t, e.mollie.RefreshTokenValid(old.RefreshToken.Reveal()))
	stored, lerr := e.load("mollie", "shop-1")
	require.NoError(t, lerr, "kept: a grant is still live")
	assert.Equal(t, store.StatusDisconnected, stored.Status)
	require.Len(t, stored.Retired, 1)
	assert.Equal(t, old.RefreshToken, stored.Retired[0].Token)

	require.NoError(t, link.Disconnect(context.Background(), "shop-1"))
	assert.False(t, e.mollie.RefreshTokenValid(old.RefreshToken.Reveal()))
	_, lerr = e.load("mollie", "shop-1")
	assert.ErrorIs(t, lerr, store.ErrNotFound)
}

// The connector that commits a reconnect serves the new token at once,
// however long its cache keeps tokens.
func TestReconnectReplacesCachedToken(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Tokens.CacheTTL = time.Hour }))
	link := e.links["mollie"]
	var seen store.Secret
	h := link.LoadConnection(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		conn, err := oauthlink.ConnectionFromContext(r.Context(), "mollie")
		require.NoError(t, err)
		seen = conn.AccessToken
	}))
	serve := func() store.Secret {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.AddCookie(&http.Cookie{Name: "user", Value: "shop-1"})
		h.ServeHTTP(httptest.NewRecorder(), r)
		return seen
	}
	old := e.connected("mollie", "shop-1")
	require.Equal(t, old.AccessToken, serve(), "cached")
	cur := e.connected("mollie", "shop-1")
	assert.Equal(t, cur.AccessToken, serve(), "the new grant's token right after the commit")

	resp, err := link.Client("shop-1").Get(e.mollie.APIURL() + "/v2/organizations/me")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// toggleStore fails Save while failing is set.
type toggleStore struct {
	store.TokenStore
	failing atomic.Bool
}

func (s *toggleStore) Save(ctx context.Context, c *oauthlink.Connection) error {
	if s.failing.Load() {
		return errors.New("store down")
	}
	return s.TokenStore.Save(ctx, c)
}

func (s *toggleStore) Unwrap() store.TokenStore { return s.TokenStore }

// A refresh whose save failed leaves a rotated pair in this process's
// memory only; a reconnect retires it with the stored grant, so that grant
// cannot outlive the connection through its newer refresh token.
func TestReconnectRetiresUnsavedRotatedPair(t *testing.T) {
	ts := &toggleStore{TokenStore: memstore.New()}
	// The failing save is retried for the longer of ExchangeTimeout and
	// LockTTL: keep both short.
	e := newEnv(t, withStore(ts), withConfig(func(c *oauthlink.Config) { c.Tokens.ExchangeTimeout, c.Tokens.LockTTL = time.Second, time.Second }))
	link := e.links["qonto"]
	old := e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	ts.failing.Store(true)
	_, err := link.Connection(context.Background(), "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrStore, "refreshed at the provider, not saved")
	ts.failing.Store(false)
	require.Equal(t, 1, e.qonto.Refreshes())

	failRevocations(e.qonto)
	cur := e.connected("qonto", "shop-1")
	require.Len(t, cur.Retired, 2, "the stored grant and the unsaved rotated pair")
	assert.Equal(t, old.RefreshToken, cur.Retired[0].Token)
	rotated := cur.Retired[1]
	assert.Equal(t, "refresh_token", rotated.Kind)
	assert.NotEqual(t, old.RefreshToken, rotated.Token)
	assert.True(t, e.qonto.RefreshTokenValid(rotated.Token.Reveal()), "issued by the refresh, known only to this process")

	require.NoError(t, oauthlink.RevokeRetired(link, context.Background(), "shop-1"))
	assert.False(t, e.qonto.RefreshTokenValid(rotated.Token.Reveal()))
	assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))
	assert.True(t, e.qonto.RefreshTokenValid(cur.RefreshToken.Reveal()))
}

// A provider that answers a new consent with the refresh token it had
// already issued keeps one grant: nothing is retired, nothing revoked.
func TestReconnectSameGrantNotRetired(t *testing.T) {
	e := newEnv(t)
	answer := func(access string) oauthlinktest.Fault {
		return oauthlinktest.Fault{Status: http.StatusOK, ContentType: "application/json",
			Body: `{"access_token":"` + access + `","refresh_token":"refresh_same","token_type":"bearer","expires_in":3600}`}
	}
	e.mollie.Fault(oauthlinktest.EndpointToken, answer("access_one"))
	e.connected("mollie", "shop-1")
	e.mollie.Fault(oauthlinktest.EndpointToken, answer("access_two"))
	cur := e.connected("mollie", "shop-1")
	assert.Equal(t, store.Secret("access_two"), cur.AccessToken)
	assert.Empty(t, cur.Retired)
	assert.Zero(t, e.mollie.Calls(oauthlinktest.EndpointRevoke))
}

// With an encrypting store the retired tokens go through the encrypting store like
// the others: the Connector reads them back and revokes the real token.
func TestRetiredWithEncryptedStore(t *testing.T) {
	sealed := encryptedMemstore(t, tokenKey("k1", 7))
	e := newEnv(t, withStore(sealed))
	link := e.links["mollie"]
	e.connected("mollie", "shop-1")
	old, err := sealed.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	failRevocations(e.mollie)
	e.connected("mollie", "shop-1")
	cur, err := sealed.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	require.Len(t, cur.Retired, 1)
	assert.Equal(t, old.RefreshToken, cur.Retired[0].Token)

	require.NoError(t, oauthlink.RevokeRetired(link, context.Background(), "shop-1"))
	assert.False(t, e.mollie.RefreshTokenValid(old.RefreshToken.Reveal()))
	assert.True(t, e.mollie.RefreshTokenValid(cur.RefreshToken.Reveal()))
}

// Retired tokens are secrets like the connection's own: with encryption
// they are sealed at rest.
func TestRetiredSealedAtRest(t *testing.T) {
	inner := memstore.New()
	sealed := sealedOver(t, inner, tokenKey("k1", 7))
	e := newEnv(t, withStore(sealed))
	e.connected("mollie", "shop-1")
	old, err := sealed.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	failRevocations(e.mollie)
	e.connected("mollie", "shop-1")
	raw, err := inner.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	require.Len(t, raw.Retired, 1)
	assert.NotContains(t, raw.Retired[0].Token.Reveal(), old.RefreshToken.Reveal(), "sealed in the store")
	assert.Equal(t, "refresh_token", raw.Retired[0].Kind)
	cur, err := sealed.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, old.RefreshToken, cur.Retired[0].Token, "opened by the Connector")
}

// A revocation that failed at reconnect is retried by the connection's
// next refresh, which then drops the confirmed token from Retired.
func TestRefreshRetriesRetired(t *testing.T) {
	e := newEnv(t)
	link := e.links["qonto"]
	old := e.connected("qonto", "shop-1")
	failRevocations(e.qonto)
	cur := e.connected("qonto", "shop-1")
	require.Len(t, cur.Retired, 1)
	require.True(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()), "still live at the provider")

	e.clk.Advance(2 * time.Hour)
	conn, err := link.Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Empty(t, conn.Retired, "the refresh hands out the record without the revoked token")
	assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()), "revoked on the next refresh")
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Empty(t, stored.Retired)
	assert.Equal(t, conn.AccessToken, stored.AccessToken)
	assert.True(t, e.qonto.AccessTokenValid(conn.AccessToken.Reveal()))
}
