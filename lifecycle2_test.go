package oauthlink_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
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

// G25: a refresh answer without refresh_token keeps the stored one at a
// provider that does not rotate (Mollie); a rotating provider has consumed
// it (TestRotationWithoutRefreshToken).
func TestG25_RefreshWithoutRefreshTokenKeepsOld(t *testing.T) {
	e := newEnv(t)
	old := e.connected("mollie", "shop-1")
	e.clk.Advance(2 * time.Hour)
	e.mollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: 200, ContentType: "application/json",
		Body: `{"access_token":"access_new_without_refresh","token_type":"bearer","expires_in":3600}`})
	conn, err := e.links["mollie"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.Secret("access_new_without_refresh"), conn.AccessToken)
	assert.Equal(t, old.RefreshToken, conn.RefreshToken, "a provider that does not rotate: the old refresh token stays (RFC 6749 §6)")
	stored, err := e.load("mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, old.RefreshToken, stored.RefreshToken)
}

// G27: client authentication is pinned, so no grant is ever resent to
// probe a style: the provider sees each refresh token exactly once, even
// through a storm and a transient failure.
func TestG27_EachRefreshTokenPresentedOnce(t *testing.T) {
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace}))
	old := e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { _, _ = e.links["qonto"].Connection(context.Background(), "shop-1") })
	}
	wg.Wait()
	assert.Equal(t, 1, e.qonto.Presented(old.RefreshToken.Reveal()))
	for _, a := range e.qonto.ClientAuths(oauthlinktest.EndpointToken) {
		assert.Equal(t, oauthlinktest.ClientAuthBody, a)
	}
}

// noLock hides the store's Locker, as an instance whose lock expired (or
// a store without locks) would behave.
type noLock struct{ store.TokenStore }

// H29: instance A's refresh outlives its lock; B refreshes and saves in
// the meantime. A's late write is rejected by compare-and-swap and A uses
// B's token: no lost update.
func TestH29_LateWriteRejected(t *testing.T) {
	e := newEnv(t) // Qonto with the default 60 s grace: both refreshes succeed
	e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	release := make(chan struct{})
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{HoldUntil: release})
	a := e.links["qonto"]
	type result struct {
		conn *oauthlink.Connection
		err  error
	}
	aDone := make(chan result, 1)
	go func() {
		c, err := a.Connection(context.Background(), "shop-1")
		aDone <- result{c, err}
	}()
	require.Eventually(t, func() bool { return e.qonto.Refreshes() == 1 }, 10*time.Second, time.Millisecond)

	f := e.fakes["qonto"]
	b, err := oauthlink.New(oauthlink.Config{Provider: f.Provider(), ClientID: f.ClientID(), ClientSecret: f.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/qonto/callback", Store: noLock{e.store}, Owner: ownerFromCookie,
		CookieSecrets: [][]byte{e.secret}, HTTPClient: f.Client(), Now: e.clk.Now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	bConn, err := b.Connection(context.Background(), "shop-1")
	require.NoError(t, err)

	close(release)
	var ra result
	select {
	case ra = <-aDone:
	case <-time.After(10 * time.Second):
		t.Fatal("A did not return")
	}
	require.NoError(t, ra.err)
	assert.Equal(t, bConn.AccessToken, ra.conn.AccessToken, "A adopts B's token")
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, bConn.AccessToken, stored.AccessToken, "A's late write did not overwrite B's")
	assert.Equal(t, bConn.Version, stored.Version)
	assert.True(t, e.qonto.RefreshTokenValid(stored.RefreshToken.Reveal()))
}

// countingStore counts Loads, so a test can tell when every caller has read.
type countingStore struct {
	store.TokenStore
	loads atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, p, o string) (*oauthlink.Connection, error) {
	s.loads.Add(1)
	return s.TokenStore.Load(ctx, p, o)
}

func (s *countingStore) Unwrap() store.TokenStore { return s.TokenStore }

// Refresh refreshes a token that is not due, once for callers that overlap:
// the provider holds its answer until all 20 callers have read the store,
// so every one of them asked while the refresh was in flight.
func TestForcedRefresh(t *testing.T) {
	cs := &countingStore{TokenStore: memstore.New()}
	e := newEnv(t, withStore(cs))
	old := e.connected("qonto", "shop-1")
	release := make(chan struct{})
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{HoldUntil: release})
	before := cs.loads.Load()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			conn, err := e.links["qonto"].ForceRefresh(context.Background(), "shop-1")
			assert.NoError(t, err)
			if err == nil {
				assert.NotEqual(t, old.AccessToken, conn.AccessToken)
			}
		})
	}
	// 20 callers' reads, plus the leader's re-read under the lock.
	require.Eventually(t, func() bool { return cs.loads.Load()-before >= 21 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, 1, e.qonto.Refreshes())
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, old.Version+1, stored.Version)
	_, err = e.links["qonto"].ForceRefresh(context.Background(), "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// AuthParams may read r.Form on a GET start.
func TestAuthParamsSeesForm(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		if c.Provider.Name == "qonto" {
			c.Flow.AuthParams = func(r *http.Request) (url.Values, error) {
				return url.Values{"organization_id": {r.Form.Get("organization_id")}}, nil
			}
		}
	}))
	h := e.browser("shop-1").get(e.app.URL + "/connect/qonto?organization_id=1acf250c-a068-47fa-ae9d-032b85c148dc")
	require.Equal(t, http.StatusSeeOther, h.Status)
	u, err := url.Parse(h.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "1acf250c-a068-47fa-ae9d-032b85c148dc", u.Query().Get("organization_id"))
}
