package oauthlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
)

// connected runs a flow for owner and returns the stored connection.
func (e *env) connected(provider, owner string) *oauthlink.Connection {
	e.t.Helper()
	h := e.browser(owner).connect(provider, "")
	require.Equal(e.t, http.StatusSeeOther, h.Status, h.Body)
	conn, err := e.load(provider, owner)
	require.NoError(e.t, err)
	return conn
}

// instance is a second Connector on the same store and fake, as another
// process of the same app would have (own singleflight, own cache).
func (e *env) instance(provider string) *oauthlink.Connector {
	e.t.Helper()
	f := e.fakes[provider]
	c, err := oauthlink.New(oauthlink.Config{
		Provider: f.Provider(), ClientID: f.ClientID(), ClientSecret: f.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/" + provider + "/callback", Store: e.store, Owner: ownerFromCookie,
		CookieSecrets: [][]byte{e.secret}, HTTPClient: f.Client(), Now: e.clk.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
		Tokens: oauthlink.TokenOptions{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond},
	})
	require.NoError(e.t, err)
	return c
}

// H28: a storm of 500 concurrent requests on an expired token makes one
// refresh, and every caller gets its result.
func TestH28_RefreshStorm(t *testing.T) {
	e := newEnv(t)
	old := e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	link := e.links["qonto"]
	var wg sync.WaitGroup
	tokens := make([]string, 500)
	errs := make([]error, 500)
	for i := range 500 {
		wg.Go(func() {
			conn, err := link.Connection(context.Background(), "shop-1")
			errs[i] = err
			if err == nil {
				tokens[i] = conn.AccessToken.Reveal()
			}
		})
	}
	wg.Wait()
	for i := range 500 {
		require.NoError(t, errs[i])
		assert.Equal(t, tokens[0], tokens[i])
	}
	assert.NotEqual(t, old.AccessToken.Reveal(), tokens[0])
	assert.Equal(t, 1, e.qonto.Refreshes())
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, tokens[0], stored.AccessToken.Reveal())
	assert.True(t, e.qonto.RefreshTokenValid(stored.RefreshToken.Reveal()))
}

// H28 with Hydra at grace 0: several instances (separate Connectors on one
// store) hammer one connection over repeated expiries; the provider never
// sees a reused refresh token.
func TestH28_HydraNoGraceAcrossInstances(t *testing.T) {
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: 5 * time.Minute}))
	e.connected("qonto", "shop-1")
	instances := []*oauthlink.Connector{e.links["qonto"], e.instance("qonto"), e.instance("qonto"), e.instance("qonto")}
	const expiries = 5
	for round := range expiries {
		e.clk.Advance(5 * time.Minute)
		var wg sync.WaitGroup
		var failures atomic.Int64
		for _, inst := range instances {
			for range 25 {
				wg.Go(func() {
					if _, err := inst.Connection(context.Background(), "shop-1"); err != nil {
						failures.Add(1)
					}
				})
			}
		}
		wg.Wait()
		require.Zero(t, failures.Load(), "round %d", round)
	}
	assert.Zero(t, e.qonto.ReuseDetections())
	assert.Equal(t, expiries, e.qonto.Refreshes(), "one refresh per rotation")
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	for _, inst := range instances {
		conn, err := inst.Connection(context.Background(), "shop-1")
		require.NoError(t, err)
		assert.Equal(t, stored.AccessToken, conn.AccessToken, "all instances end on one token")
	}
}

// H30: the caller gives up right after the provider rotated; the rotated
// token is still saved.
func TestH30_CancelAfterProviderAnswered(t *testing.T) {
	var cancel atomic.Pointer[context.CancelFunc]
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace,
		BeforeTokenResponse: func(_ *http.Request, grant string) {
			if c := cancel.Load(); c != nil && grant == "refresh_token" {
				(*c)()
			}
		}}))
	old := e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	ctx, c := context.WithCancel(context.Background())
	cancel.Store(&c)
	_, err := e.links["qonto"].Connection(ctx, "shop-1")
	assert.ErrorIs(t, err, context.Canceled)

	require.Eventually(t, func() bool {
		s, err := e.load("qonto", "shop-1")
		return err == nil && s.Version == old.Version+1
	}, 10*time.Second, 5*time.Millisecond, "the detached refresh saves its result")
	stored, _ := e.load("qonto", "shop-1")
	assert.NotEqual(t, old.RefreshToken, stored.RefreshToken)
	assert.True(t, e.qonto.RefreshTokenValid(stored.RefreshToken.Reveal()))
	assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))
	conn, err := e.links["qonto"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Equal(t, stored.AccessToken, conn.AccessToken)
	assert.Zero(t, e.qonto.ReuseDetections())
	assert.Equal(t, 1, e.qonto.Refreshes())
}

// H31: invalid_grant with nothing newer in the store → reauth_required,
// never deleted, and a typed error.
func TestH31_InvalidGrantMarksReauth(t *testing.T) {
	var events []oauthlink.EventKind
	var mu sync.Mutex
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Hooks.OnEvent = func(_ context.Context, ev oauthlink.Event) {
			mu.Lock()
			events = append(events, ev.Kind)
			mu.Unlock()
		}
	}))
	e.connected("mollie", "shop-1")
	e.clk.Advance(2 * time.Hour)
	e.mollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: 400, Body: `{"error":"invalid_grant","error_description":"revoked"}`})
	_, err := e.links["mollie"].Connection(context.Background(), "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrReauthRequired)
	var te *oauthlink.ProviderError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.InvalidGrant())

	stored, err := e.load("mollie", "shop-1")
	require.NoError(t, err, "never deleted")
	assert.Equal(t, store.StatusReauthRequired, stored.Status)
	_, err = e.links["mollie"].Connection(context.Background(), "shop-1")
	assert.ErrorIs(t, err, oauthlink.ErrReauthRequired)
	assert.Equal(t, 1, e.mollie.Calls(oauthlinktest.EndpointToken)-1, "no second refresh attempt")
	mu.Lock()
	assert.Contains(t, events, oauthlink.EventReauthRequired)
	mu.Unlock()

	// Reconnecting replaces it with an active connection.
	conn := e.connected("mollie", "shop-1")
	assert.Equal(t, store.StatusActive, conn.Status)
	assert.Equal(t, stored.CreatedAt, conn.CreatedAt)
}

// staleStore serves an old snapshot for the first n loads, as an instance
// that read just before a peer's refresh would see.
type staleStore struct {
	store.TokenStore
	mu    sync.Mutex
	stale *oauthlink.Connection
	n     int
}

func (s *staleStore) Load(ctx context.Context, p, o string) (*oauthlink.Connection, error) {
	s.mu.Lock()
	if s.n > 0 {
		s.n--
		c := s.stale.Clone()
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	return s.TokenStore.Load(ctx, p, o)
}

// H31: instance B refreshes with a token instance A already rotated (B
// read the store just before A saved); the provider answers invalid_grant,
// B re-reads the store and uses A's token, with no flag and no extra
// refresh.
func TestH31_PeerRotatedUseNewer(t *testing.T) {
	for _, rotates := range []bool{false, true} {
		name := "non-rotating"
		if rotates {
			name = "rotating"
		}
		t.Run(name, func(t *testing.T) { testPeerRotatedUseNewer(t, rotates) })
	}
}

// testPeerRotatedUseNewer: B read the connection before A's refresh and
// presents the old refresh token, which the provider refuses. Without
// rotation B uses A's newer token. With rotation the refusal usually means
// the provider revoked the whole grant (Hydra's reuse detection), A's new
// tokens included, so B hands out nothing this time, flags nothing, and
// the next call uses the stored token.
func testPeerRotatedUseNewer(t *testing.T, rotates bool) {
	e := newEnv(t)
	old := e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	_, err := e.links["qonto"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)

	f := e.fakes["qonto"]
	p := f.Provider()
	p.RotatesRefreshTokens = rotates
	ss := &staleStore{TokenStore: e.store, stale: old, n: 2} // B's two reads before the refresh
	b, err := oauthlink.New(oauthlink.Config{Provider: p, ClientID: f.ClientID(), ClientSecret: f.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/qonto/callback", Store: ss, Owner: ownerFromCookie,
		CookieSecrets: [][]byte{e.secret}, HTTPClient: f.Client(), Now: e.clk.Now})
	require.NoError(t, err)
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: 400, Body: `{"error":"invalid_grant","error_description":"The refresh token was already used."}`})
	conn, err := b.Connection(context.Background(), "shop-1")
	stored, _ := e.load("qonto", "shop-1")
	if rotates {
		var te *oauthlink.ProviderError
		require.ErrorAs(t, err, &te)
		assert.True(t, te.InvalidGrant())
		assert.Nil(t, conn, "no token it cannot vouch for")
		conn, err = b.Connection(context.Background(), "shop-1")
	}
	require.NoError(t, err)
	assert.Equal(t, stored.AccessToken, conn.AccessToken)
	assert.Equal(t, store.StatusActive, stored.Status, "no flag")
	assert.Equal(t, 1, e.qonto.Refreshes(), "no extra refresh")
	assert.True(t, e.qonto.AccessTokenValid(conn.AccessToken.Reveal()))
}

// G23: 503, 503, then 200 on refresh; and a 429 with Retry-After.
func TestG23_RefreshRetriesTransientFailures(t *testing.T) {
	e := newEnv(t)
	e.connected("mollie", "shop-1")
	e.clk.Advance(2 * time.Hour)
	e.mollie.Fault(oauthlinktest.EndpointToken,
		oauthlinktest.Fault{Status: 503, Body: "busy"},
		oauthlinktest.Fault{Status: 429, RetryAfter: "0", Body: `{"error":"rate_limited"}`},
		oauthlinktest.Fault{Status: 503})
	conn, err := e.links["mollie"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.True(t, e.mollie.AccessTokenValid(conn.AccessToken.Reveal()))
	assert.Equal(t, 1+4, e.mollie.Calls(oauthlinktest.EndpointToken))
	assert.Equal(t, 1, e.mollie.Refreshes())

	e.clk.Advance(2 * time.Hour)
	e.mollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: 503}, oauthlinktest.Fault{Status: 503},
		oauthlinktest.Fault{Status: 503}, oauthlinktest.Fault{Status: 503})
	_, err = e.links["mollie"].Connection(context.Background(), "shop-1")
	var te *oauthlink.ProviderError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Temporary())
	stored, err := e.load("mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusActive, stored.Status, "a transient failure does not flag the connection")
}

// Mollie resends the exchange's redirect_uri on refresh; the fake refuses
// a refresh without it.
func TestMollieRefreshResendsRedirectURI(t *testing.T) {
	e := newEnv(t)
	old := e.connected("mollie", "shop-1")
	e.clk.Advance(2 * time.Hour)
	conn, err := e.links["mollie"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.NotEqual(t, old.AccessToken, conn.AccessToken)
	assert.Equal(t, old.RefreshToken, conn.RefreshToken, "Mollie does not rotate; the old refresh token is kept")
}

func TestRefreshAheadOfExpiry(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Tokens.RefreshJitter = -1 }))
	e.connected("mollie", "shop-1")
	link := e.links["mollie"]
	e.clk.Advance(58 * time.Minute)
	_, err := link.Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Zero(t, e.mollie.Refreshes(), "2 minutes left: not yet")
	e.clk.Advance(61 * time.Second)
	_, err = link.Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Equal(t, 1, e.mollie.Refreshes(), "59 s left: refreshed ahead")
}

func TestConnectionOAuth2Token(t *testing.T) {
	e := newEnv(t)
	conn := e.connected("qonto", "shop-1")
	got, err := e.links["qonto"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	tok := got.OAuth2Token()
	assert.Equal(t, conn.AccessToken.Reveal(), tok.AccessToken)
	assert.True(t, tok.Valid())
	_, err = e.links["qonto"].Connection(context.Background(), "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	e.connected("mollie", "shop-1")
	link := e.links["mollie"]
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := oauthlink.ConnectionFromContext(r.Context(), "mollie")
		if err != nil {
			fmt.Fprintf(w, "none: %v", errors.Is(err, store.ErrNotFound))
			return
		}
		fmt.Fprint(w, "token:", len(conn.OAuth2Token().AccessToken) > 0)
	})
	serve := func(h http.Handler, user, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/orders?x=1", nil)
		if user != "" {
			r.AddCookie(&http.Cookie{Name: "user", Value: user})
		}
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	t.Run("load never rejects", func(t *testing.T) {
		assert.Equal(t, "token:true", serve(link.LoadConnection(handler), "shop-1", "").Body.String())
		assert.Equal(t, "none: true", serve(link.LoadConnection(handler), "shop-2", "").Body.String())
		assert.Equal(t, "none: false", serve(link.LoadConnection(handler), "", "").Body.String())
	})
	t.Run("require", func(t *testing.T) {
		req := link.RequireConnection("/connect/mollie")(handler)
		assert.Equal(t, "token:true", serve(req, "shop-1", "").Body.String())
		html := serve(req, "shop-2", "text/html,application/xhtml+xml")
		assert.Equal(t, http.StatusSeeOther, html.Code)
		assert.Equal(t, "/connect/mollie?return_to=%2Forders%3Fx%3D1", html.Header().Get("Location"))
		api := serve(req, "shop-2", "application/json")
		assert.Equal(t, http.StatusUnauthorized, api.Code)
		assert.JSONEq(t, `{"error":"not_connected","provider":"mollie","reason":"not_connected"}`, api.Body.String())
		anon := serve(req, "", "text/html")
		assert.Equal(t, http.StatusUnauthorized, anon.Code)
	})
}

// peerRefresh refreshes conn straight at the fake and saves the result, as
// another instance (or another program) sharing the store would.
func (e *env) peerRefresh(provider string, conn *oauthlink.Connection) *oauthlink.Connection {
	e.t.Helper()
	f := e.fakes[provider]
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {conn.RefreshToken.Reveal()},
		"client_id": {f.ClientID()}, "client_secret": {f.ClientSecret()}}
	resp, err := f.Client().PostForm(f.Provider().TokenURL, form)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&tok))
	next := conn.Clone()
	next.AccessToken, next.RefreshToken = store.Secret(tok.AccessToken), store.Secret(tok.RefreshToken)
	require.NoError(e.t, e.store.Save(context.Background(), next))
	return next
}

// H31: a 401 after a peer's refresh (Hydra revoked the access token it
// replaced) makes the client reload from the store and retry once, with no
// refresh of its own.
func TestH31_Client401ReloadAndRetry(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Tokens.CacheTTL = time.Hour }))
	conn := e.connected("qonto", "shop-1")
	client := e.links["qonto"].Client("shop-1")
	get := func() int {
		resp, err := client.Get(e.qonto.APIURL() + "/v2/organization")
		require.NoError(t, err)
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get()) // the client now caches the token
	peer := e.peerRefresh("qonto", conn)
	require.False(t, e.qonto.AccessTokenValid(conn.AccessToken.Reveal()), "Hydra revoked the replaced access token")

	calls := e.qonto.Calls(oauthlinktest.EndpointAPI)
	assert.Equal(t, http.StatusOK, get())
	assert.Equal(t, 2, e.qonto.Calls(oauthlinktest.EndpointAPI)-calls, "one 401, one retry")
	assert.Equal(t, 1, e.qonto.Refreshes(), "only the peer refreshed")
	cur, err := e.links["qonto"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Equal(t, peer.AccessToken, cur.AccessToken)
}

// M40: the bearer token never follows a redirect to another host.
func TestM40_NoTokenOnCrossHostRedirect(t *testing.T) {
	var got atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("other host received Authorization")
		}
	}))
	defer other.Close()
	e := newEnv(t)
	e.connected("mollie", "shop-1")
	e.mollie.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{RedirectTo: other.URL + "/steal", Status: http.StatusFound})
	client := e.links["mollie"].Client("shop-1")
	resp, err := client.Get(e.mollie.APIURL() + "/v2/organizations/me")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode, "redirect handed back, not followed")
	assert.Zero(t, got.Load())

	_, err = client.Get(other.URL + "/direct")
	assert.Error(t, err, "the client refuses to send the token to another host")
	assert.Zero(t, got.Load())
}

// L38: revocation retried through 503, 503, then success; the record is
// deleted only after the provider confirmed.
func TestL38_DisconnectRetriesRevocation(t *testing.T) {
	e := newEnv(t)
	conn := e.connected("mollie", "shop-1")
	e.mollie.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: 503}, oauthlinktest.Fault{Status: 503, RetryAfter: "0"})
	h := e.browser("shop-1").do(http.MethodPost, e.app.URL+"/connect/mollie/disconnect", nil)
	assert.Equal(t, http.StatusSeeOther, h.Status, h.Body)
	assert.Equal(t, 3, e.mollie.Calls(oauthlinktest.EndpointRevoke))
	assert.False(t, e.mollie.RefreshTokenValid(conn.RefreshToken.Reveal()))
	assert.False(t, e.mollie.AccessTokenValid(conn.AccessToken.Reveal()))
	_, err := e.load("mollie", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestL38_DisconnectKeepsRecordWhenRevocationFails(t *testing.T) {
	e := newEnv(t)
	e.connected("qonto", "shop-1")
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: 503})
	}
	err := e.links["qonto"].Disconnect(context.Background(), "shop-1")
	require.Error(t, err)
	stored, lerr := e.load("qonto", "shop-1")
	require.NoError(t, lerr, "never a silent loss")
	assert.Equal(t, store.StatusDisconnected, stored.Status)
	_, ferr := e.links["qonto"].Connection(context.Background(), "shop-1")
	assert.ErrorIs(t, ferr, oauthlink.ErrDisconnected)

	require.NoError(t, e.links["qonto"].Disconnect(context.Background(), "shop-1"), "retry succeeds")
	_, lerr = e.load("qonto", "shop-1")
	assert.ErrorIs(t, lerr, store.ErrNotFound)
	assert.NoError(t, e.links["qonto"].Disconnect(context.Background(), "shop-1"), "idempotent")
}

// L38: a refresh held inside the provider while the user disconnects
// cannot bring the connection back.
func TestL38_DisconnectRacingRefresh(t *testing.T) {
	e := newEnv(t)
	e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	release := make(chan struct{})
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{HoldUntil: release})
	refreshed := make(chan error, 1)
	go func() {
		_, err := e.links["qonto"].Connection(context.Background(), "shop-1")
		refreshed <- err
	}()
	require.Eventually(t, func() bool { return e.qonto.Refreshes() == 1 }, 10*time.Second, time.Millisecond, "refresh reached the provider")
	disconnected := make(chan error, 1)
	go func() { disconnected <- e.instance("qonto").Disconnect(context.Background(), "shop-1") }()
	require.Eventually(t, func() bool {
		s, err := e.load("qonto", "shop-1")
		return err == nil && s.Status == store.StatusDisconnected
	}, 10*time.Second, time.Millisecond, "marked disconnected while the refresh is held")
	close(release)
	for name, ch := range map[string]chan error{"refresh": refreshed, "disconnect": disconnected} {
		select {
		case err := <-ch:
			if name == "refresh" {
				assert.ErrorIs(t, err, oauthlink.ErrDisconnected)
			} else {
				assert.NoError(t, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not return", name)
		}
	}
	_, err := e.load("qonto", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "the refresh did not resurrect the connection")
}

// A reconnect while an old grant's refresh is still in flight keeps the new
// grant: the old refresh cannot overwrite it even though versions restart
// at 1 after the delete (the ABA case). The disconnect and the reconnect
// both complete their provider calls while the old refresh is held at the
// provider; it is released last.
func TestReconnectDuringInFlightRefresh(t *testing.T) {
	e := newEnv(t)
	e.connected("mollie", "shop-1")
	e.clk.Advance(2 * time.Hour)
	release := make(chan struct{})
	e.mollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{HoldUntil: release})
	refreshed := make(chan error, 1)
	go func() {
		_, err := e.links["mollie"].Connection(context.Background(), "shop-1")
		refreshed <- err
	}()
	require.Eventually(t, func() bool { return e.mollie.Refreshes() == 1 }, 10*time.Second, time.Millisecond)

	disconnected := make(chan error, 1)
	go func() { disconnected <- e.instance("mollie").Disconnect(context.Background(), "shop-1") }()
	require.Eventually(t, func() bool { return e.mollie.Calls(oauthlinktest.EndpointRevoke) == 1 }, 10*time.Second, time.Millisecond, "revoked")

	b := e.browser("shop-1")
	cb := b.authorize("mollie", "")
	reconnected := make(chan int, 1)
	go func() {
		resp, err := b.c.Get(cb)
		if err != nil {
			reconnected <- 0
			return
		}
		resp.Body.Close()
		reconnected <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return e.mollie.Exchanges() == 2 }, 10*time.Second, time.Millisecond, "new code exchanged")
	close(release)
	for _, ch := range []chan error{refreshed, disconnected} {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatal("did not return")
		}
	}
	select {
	case status := <-reconnected:
		assert.Equal(t, http.StatusSeeOther, status)
	case <-time.After(30 * time.Second):
		t.Fatal("reconnect did not return")
	}
	stored, err := e.load("mollie", "shop-1")
	require.NoError(t, err, "the new connection survives")
	assert.Equal(t, store.StatusActive, stored.Status)
	assert.True(t, e.mollie.AccessTokenValid(stored.AccessToken.Reveal()), "the stored token is the new grant's")
	assert.True(t, e.mollie.RefreshTokenValid(stored.RefreshToken.Reveal()))
}

// K37: canary tokens never appear in formatted output, slog or JSON.
func TestK37_Redaction(t *testing.T) {
	conn := &oauthlink.Connection{Provider: "mollie", Owner: "o", AccessToken: "access_CANARY1", RefreshToken: "refresh_CANARY2",
		Extra: `{"id_token":"CANARY3"}`, Status: store.StatusActive}
	var buf bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&buf, verb+"\n", conn)
		fmt.Fprintf(&buf, verb+"\n", *conn)
		fmt.Fprintf(&buf, verb+"\n", conn.AccessToken)
	}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "conn", conn, "tok", conn.RefreshToken, "extra", conn.Extra)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "conn", conn, "tok", conn.RefreshToken)
	js, err := json.Marshal(conn)
	require.NoError(t, err)
	buf.Write(js)
	js, err = json.Marshal(map[string]any{"t": conn.AccessToken, "v": *conn})
	require.NoError(t, err)
	buf.Write(js)
	out := buf.String()
	for _, c := range []string{"CANARY1", "CANARY2", "CANARY3"} {
		assert.NotContains(t, out, c)
	}
	assert.Contains(t, out, "[redacted]")
	assert.Contains(t, out, "mollie")
}
