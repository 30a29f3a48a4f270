package integration_test

import (
	"context"
	"net/http"
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

// Store down during the callback (issue 5 item 7; security.md I34). The
// app instance reaches its store through a proxy (proxy_test.go) that the
// test takes down or stalls at chosen moments; the browser is a cookie-jar
// client against the app's httptest TLS server.
//
// What must hold: the store is checked before the code is spent, so a
// store that is down costs nothing but a retry; a store that dies after
// the exchange gets a bounded number of save attempts, then the new grant
// is revoked at the provider and the user sees a retry page; "connected"
// is never shown without a commit.

// The texts of the default error page (errorpage.go).
const (
	retryPage  = "Nothing was changed; please try again in a moment."
	undonePage = "so it was undone at the provider"
)

// callbackApp is a cluster whose serving instance reaches the store through
// a proxy.
func callbackApp(t *testing.T, be *backend, opts clusterOptions) (*cluster, *instance, *proxy) {
	t.Helper()
	c := newCluster(t, be, opts)
	px := newProxy(t, be.addr)
	app := c.instance(instanceName("app"), px.Addr())
	c.serve(app)
	return c, app, px
}

// assertNoRow checks, on a pool that does not go through the proxy, that
// nothing was stored for the owner.
func assertNoRow(t *testing.T, be *backend) {
	t.Helper()
	_, err := be.inspect.Load(testContext(t), provider, owner)
	assert.ErrorIs(t, err, store.ErrNotFound, "no row exists")
}

// assertNotConnected checks the callback's answer is an error page, not the
// post-connect redirect.
func assertNotConnected(t *testing.T, h hop) {
	t.Helper()
	assert.Empty(t, h.Header.Get("Location"), "no redirect to the return-to page")
	assert.NotContains(t, h.Body, "connected")
	assert.Contains(t, h.Body, "Connection failed")
}

// retryConnects checks that the user, trying again once the store is back,
// connects with a live grant.
func retryConnects(t *testing.T, c *cluster, app *instance) {
	t.Helper()
	h := c.browser(owner).connect()
	require.Equal(t, http.StatusSeeOther, h.Status, h.Body)
	conn, err := c.stored(app)
	require.NoError(t, err)
	assert.Equal(t, store.StatusActive, conn.Status)
	assert.True(t, c.qonto.AccessTokenValid(conn.AccessToken.Reveal()))
	assert.True(t, c.qonto.RefreshTokenValid(conn.RefreshToken.Reveal()))
}

// I34, store unreachable before the exchange: the code is not spent,
// nothing is revoked or stored, and the user can try again. The replay
// guard is the store itself (the default with sqlstore and redisstore), so
// the first store call of the callback fails; the status and page it
// should show are TestCallbackStoreDownBeforeExchangeAnswers503 (a known
// bug).
func TestCallbackStoreDownBeforeExchange(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		c, app, px := callbackApp(t, be, clusterOptions{})
		b := c.browser(owner)
		cb := b.authorize()
		px.Down()
		h := b.get(cb)
		_, refused := px.Stats()
		t.Logf("status %d after %d refused store connections; error: %v", h.Status, refused, c.lastErr())

		assert.GreaterOrEqual(t, h.Status, 500)
		assert.ErrorIs(t, c.lastErr(), oauthlink.ErrStore)
		assertNotConnected(t, h)
		assert.Zero(t, c.qonto.Calls(oauthlinktest.EndpointToken), "the code was not spent")
		assert.Zero(t, c.qonto.Revocations())
		px.Up()
		assertNoRow(t, be)
		retryConnects(t, c, app)
	})
}

// I34 with the replay guard elsewhere (Config.ReplayGuard): the store's
// Pinger check is what stops the callback, before the code is spent, with
// 503 and the retry page. Down refuses connections; Stall accepts them and
// never answers, so the Ping's own 5-second bound ends the wait.
func TestCallbackPingBeforeExchange(t *testing.T) {
	for _, mode := range []string{"down", "stall"} {
		t.Run(mode, func(t *testing.T) {
			forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
				if mode == "stall" {
					t.Parallel() // each waits out the 5 s Ping bound
				}
				be := newBackend(t)
				c, app, px := callbackApp(t, be, clusterOptions{cfg: func(cfg *oauthlink.Config) {
					// The replay guard stays up (memstore's) while the
					// store goes down, so the store check fails, not the guard.
					cfg.Store = struct {
						store.TokenStore
						store.ReplayGuard
						store.Pinger
					}{cfg.Store, memstore.New(), cfg.Store.(*observedStore).TokenStore.(store.Pinger)}
				}})
				b := c.browser(owner)
				cb := b.authorize()
				if mode == "down" {
					px.Down()
				} else {
					px.Stall()
				}
				began := time.Now()
				h := b.get(cb)
				took := time.Since(began)
				t.Logf("status %d in %v; error: %v", h.Status, took.Round(time.Millisecond), c.lastErr())

				assert.Equal(t, http.StatusServiceUnavailable, h.Status)
				assert.ErrorIs(t, c.lastErr(), oauthlink.ErrStoreUnavailable)
				assert.Contains(t, h.Body, retryPage)
				assertNotConnected(t, h)
				assert.Less(t, took, 15*time.Second, "bounded by the Ping's timeout")
				assert.Zero(t, c.qonto.Calls(oauthlinktest.EndpointToken), "the code was not spent")
				assert.Zero(t, c.qonto.Revocations())
				px.Up()
				assertNoRow(t, be)
				retryConnects(t, c, app)
			})
		})
	}
}

// I34, store dies after the exchange: the proxy goes down inside the
// token endpoint, after the code was spent and the grant issued. The
// callback fails the commit, revokes the new grant (both tokens die at the
// provider), answers 500 with the "undone" page, and once the store is
// back there is no row; the user can connect again.
func TestCallbackStoreDiesAfterExchange(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		c, app, px := callbackApp(t, be, clusterOptions{})
		b := c.browser(owner)
		cb := b.authorize()
		c.onToken(func(_ *http.Request, grant string) {
			if grant == "authorization_code" {
				px.Down()
			}
		})
		h := b.get(cb)
		c.onToken(nil)
		_, refused := px.Stats()
		t.Logf("status %d after %d refused store connections; saves %v; error: %v", h.Status, refused, app.store.Saves(), c.lastErr())

		assert.Equal(t, http.StatusInternalServerError, h.Status)
		assert.ErrorIs(t, c.lastErr(), oauthlink.ErrStore)
		assert.NotErrorIs(t, c.lastErr(), oauthlink.ErrStoreUnavailable, "the code was spent")
		assert.Contains(t, h.Body, undonePage)
		assertNotConnected(t, h)
		assert.Equal(t, 1, c.qonto.Exchanges())
		assert.Equal(t, 1, c.qonto.Revocations(), "the new grant was revoked")
		pair := c.rotatedPair()
		assert.False(t, c.qonto.AccessTokenValid(pair.Access), "new access token revoked")
		assert.False(t, c.qonto.RefreshTokenValid(pair.Refresh), "new refresh token revoked")
		for _, err := range app.store.Saves() {
			assert.Error(t, err, "no save succeeded")
		}
		px.Up()
		assertNoRow(t, be)
		retryConnects(t, c, app)
	})
}

// A single killed store connection right after the exchange (the server
// itself stays up: pg_terminate_backend / CLIENT KILL of the app's
// connections) must not cost the user the connection: a retry on a new
// connection commits it: commitNew takes the connection lock inside its
// retry loop, so a lock statement that lands on a killed pooled PostgreSQL
// connection (SQLSTATE 57P01) is retried like the save.
func TestCallbackKilledConnectionAfterExchange(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		testKilledConnectionAfterExchange(t, be)
	})
}

func testKilledConnectionAfterExchange(t *testing.T, be *backend) {
	c := newCluster(t, be, clusterOptions{})
	app := c.instance(instanceName("app"), "")
	c.serve(app)
	b := c.browser(owner)
	cb := b.authorize()
	var killed atomic.Int64
	c.onToken(func(_ *http.Request, grant string) {
		if grant == "authorization_code" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n, err := be.kill(ctx, app.name)
			assert.NoError(t, err)
			killed.Store(int64(n))
		}
	})
	h := b.get(cb)
	c.onToken(nil)
	t.Logf("killed %d connections; status %d; error: %v", killed.Load(), h.Status, c.lastErr())
	assert.Positive(t, killed.Load())
	require.Equal(t, http.StatusSeeOther, h.Status, "connected after a retry on a new connection: %s", h.Body)
	assert.Zero(t, c.qonto.Revocations())
	conn, err := c.stored(app)
	require.NoError(t, err)
	assert.Equal(t, store.StatusActive, conn.Status)
	assert.True(t, c.qonto.RefreshTokenValid(conn.RefreshToken.Reveal()))
}

// With the replay guard on the store (the default with sqlstore and
// redisstore), an unreachable or stalled store fails the callback at the
// guard, before anything is spent: 503, ErrStoreUnavailable and the
// "nothing was changed" page, within the guard's own bound.
func TestCallbackStoreDownBeforeExchangeAnswers503(t *testing.T) {
	for _, mode := range []string{"down", "stall"} {
		t.Run(mode, func(t *testing.T) {
			forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
				be := newBackend(t)
				c, _, px := callbackApp(t, be, clusterOptions{})
				b := c.browser(owner)
				b.hc.Timeout = 20 * time.Second
				cb := b.authorize()
				if mode == "down" {
					px.Down()
				} else {
					px.Stall()
				}
				resp, err := b.hc.Get(cb)
				require.NoError(t, err, "the callback answers within its own bounds")
				resp.Body.Close()
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				assert.ErrorIs(t, c.lastErr(), oauthlink.ErrStoreUnavailable)
				assert.Zero(t, c.qonto.Calls(oauthlinktest.EndpointToken))
				px.Up()
			})
		})
	}
}
