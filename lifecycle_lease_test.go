package oauthlink_test

// Lifecycle defects found by trying the library as an attacker and as a
// real peer would: each test here failed before the lease lock, the single
// flight per connection, the 401 refresh, the rotation-without-refresh-token
// rule and the no-expiry rule. TestLeaseOutlivesRetryAfter, which also
// runs two instances on one SQLite file, lives in store/sqlstore's module
// (lease_retryafter_test.go), so this module needs no database driver.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// rotating is the Qonto fake's descriptor with the rotation it performs
// stated (Hydra at grace 0).
func rotating(p *oauthlink.Provider) {
	p.RotatesRefreshTokens = true
	p.RefreshGrace = 0
}

// noLocker hides the store's Locker, as a store without one would.
type noLocker struct{ store.TokenStore }

// A forced Refresh and a due Fresh of one connection in one process share
// one flight, even on a store without Locker.
func TestForcedAndDueShareOneFlight(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: 5 * time.Minute}),
		withStore(noLocker{memstore.New()}), withProvider(rotating))
	e.connected("qonto", "shop-1")
	link := e.links["qonto"]
	e.clk.Advance(5 * time.Minute)
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{HoldUntil: release})
	calls := e.qonto.Calls(oauthlinktest.EndpointToken)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var due, forced *oauthlink.Connection
	var errDue, errForced error
	wg.Go(func() { due, errDue = link.Connection(ctx, "shop-1") })
	require.Eventually(t, func() bool { return e.qonto.Calls(oauthlinktest.EndpointToken) > calls }, 10*time.Second, time.Millisecond,
		"the due refresh is at the provider")
	wg.Go(func() { forced, errForced = link.ForceRefresh(ctx, "shop-1") })
	// Give a second, separate flight every chance to reach the provider
	// while the first answer is held; one shared flight never does.
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	require.NoError(t, errDue)
	require.NoError(t, errForced)
	assert.Zero(t, e.qonto.ReuseDetections())
	assert.Equal(t, 1, e.qonto.Refreshes())
	assert.Equal(t, due.AccessToken, forced.AccessToken)
}

// An owner id that could collide with another one in a flight, cache or
// lock key is refused everywhere, with a clear error.
func TestOwnerKeyRules(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Owner = func(r *http.Request) (string, error) {
			owner, err := ownerFromCookie(r)
			if owner == "mallory" {
				return "alice\x00forced", nil // no cookie can carry a NUL
			}
			return owner, err
		}
	}))
	link := e.links["qonto"]
	ctx := context.Background()
	for _, owner := range []string{"alice\x00forced", "\xff\xfe", strings.Repeat("o", oauthlink.MaxOwnerLen+1)} {
		_, err := link.Connection(ctx, owner)
		assert.ErrorIs(t, err, oauthlink.ErrInvalidOwner, "Fresh(%q)", owner)
		_, err = link.ForceRefresh(ctx, owner)
		assert.ErrorIs(t, err, oauthlink.ErrInvalidOwner, "Refresh(%q)", owner)
		assert.ErrorIs(t, link.Disconnect(ctx, owner), oauthlink.ErrInvalidOwner, "Disconnect(%q)", owner)
	}
	// From Config.Owner, through the handlers: refused before any flow.
	h := e.browser("mallory").get(e.app.URL + "/connect/qonto")
	assert.Equal(t, http.StatusInternalServerError, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrInvalidOwner)
	assert.Zero(t, e.qonto.Calls(oauthlinktest.EndpointAuthorize))
}

// apiGet calls the Qonto fake's API through the Connector's client.
func apiGet(t *testing.T, e *env, link *oauthlink.Connector, owner string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.qonto.APIURL()+"/v2/organization", nil)
	require.NoError(t, err)
	resp, err := link.Client(owner).Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

// A 401 from the provider's API to the token the store holds (expired on
// the provider's side) forces one refresh and one retry.
func TestUnauthorizedForcesOneRefresh(t *testing.T) {
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace}), withProvider(rotating))
	old := e.connected("qonto", "shop-1")
	link := e.links["qonto"]
	e.qonto.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{Status: http.StatusUnauthorized,
		Body: `{"errors":[{"code":"unauthorized"}]}`, ContentType: "application/json"})
	resp, err := apiGet(t, e, link, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "retried with a refreshed token")
	assert.Equal(t, 1, e.qonto.Refreshes())
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.NotEqual(t, old.AccessToken, stored.AccessToken)
	assert.Equal(t, store.StatusActive, stored.Status)
}

// A 401 whose forced refresh the provider refuses marks the connection
// reauth_required and tells the app with the typed error.
func TestUnauthorizedRefreshRefused(t *testing.T) {
	e := newEnv(t)
	e.connected("qonto", "shop-1")
	link := e.links["qonto"]
	e.qonto.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{Status: http.StatusUnauthorized, Body: `{}`, ContentType: "application/json"})
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusBadRequest,
		Body: `{"error":"invalid_grant","error_description":"revoked"}`, ContentType: "application/json"})
	_, err := apiGet(t, e, link, "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrReauthRequired)
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusReauthRequired, stored.Status, "never deleted, marked for reconnection")
}

// scripted is a minimal provider whose token endpoint answers from a
// script and whose refresh tokens are single use (Hydra at grace 0): a
// refresh token presented twice counts as reuse.
type scripted struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers []map[string]any
	spent   map[string]bool
	reuse   atomic.Int64
	calls   atomic.Int64 // token endpoint
	// apiCalls counts /api/ requests, which all answer 401.
	apiCalls atomic.Int64
}

func newScripted(t *testing.T, answers ...map[string]any) *scripted {
	s := &scripted{answers: answers, spent: map[string]bool{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			s.apiCalls.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.calls.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		s.mu.Lock()
		defer s.mu.Unlock()
		rt := r.PostForm.Get("refresh_token")
		if s.spent[rt] || len(s.answers) == 0 {
			s.reuse.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		s.spent[rt] = true
		json.NewEncoder(w).Encode(s.answers[0])
		s.answers = s.answers[1:]
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// scriptedConnector is a Connector on s with conn stored as its one
// connection.
func scriptedConnector(t *testing.T, s *scripted, clk *clock, logs *syncBuffer, conn *oauthlink.Connection) (*oauthlink.Connector, store.TokenStore) {
	t.Helper()
	st := memstore.New()
	link, err := oauthlink.New(oauthlink.Config{
		Provider: oauthlink.Provider{Name: "hydra", AuthURL: s.srv.URL + "/auth", TokenURL: s.srv.URL + "/token",
			APIURL: s.srv.URL, AuthStyle: oauthlink.AuthStyleBody, RotatesRefreshTokens: true},
		ClientID: "client", ClientSecret: "secret", RedirectURL: "https://app.example/cb", Store: st,
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{make([]byte, 32)}, HTTPClient: s.srv.Client(), Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tokens: oauthlink.TokenOptions{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond},
	})
	require.NoError(t, err)
	conn.Provider, conn.Owner, conn.Status, conn.TokenType = "hydra", "shop-1", store.StatusActive, "Bearer"
	require.NoError(t, st.Save(context.Background(), conn))
	return link, st
}

// A rotating provider that answers a refresh without a refresh token has
// consumed the one we sent: it is never sent again. The connection keeps
// its new access token until that expires, then needs a reconnect, with
// the cause logged.
func TestRotationWithoutRefreshToken(t *testing.T) {
	clk := newClock()
	logs := &syncBuffer{}
	s := newScripted(t, map[string]any{"access_token": "at-2", "token_type": "bearer", "expires_in": 3600})
	link, st := scriptedConnector(t, s, clk, logs, &oauthlink.Connection{
		AccessToken: "at-1", RefreshToken: "rt-1", Expiry: clk.Now().Add(-time.Second)})
	ctx := context.Background()

	conn, err := link.Connection(ctx, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, "at-2", conn.AccessToken.Reveal())
	assert.Empty(t, conn.RefreshToken.Reveal(), "the consumed refresh token is not kept")

	clk.Advance(2 * time.Hour)
	_, err = link.Connection(ctx, "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrReauthRequired)
	assert.Zero(t, s.reuse.Load(), "the spent refresh token was never replayed")
	assert.Equal(t, int64(1), s.calls.Load())
	stored, err := st.Load(ctx, "hydra", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusReauthRequired, stored.Status)
	assert.Contains(t, logs.String(), "no refresh token", "the cause is logged")
}

// A long-lived token (no expires_in, no refresh token) is used until the
// provider rejects it: never expired by guess, and Refresh on it changes
// nothing.
func TestLongLivedTokenNeverExpiresByGuess(t *testing.T) {
	clk := newClock()
	s := newScripted(t)
	link, st := scriptedConnector(t, s, clk, &syncBuffer{}, &oauthlink.Connection{AccessToken: "at-forever"})
	ctx := context.Background()

	clk.Advance(10 * 365 * 24 * time.Hour)
	conn, err := link.Connection(ctx, "shop-1")
	require.NoError(t, err, "a token without expiry is not due")
	assert.Equal(t, "at-forever", conn.AccessToken.Reveal())
	assert.True(t, conn.Expiry.IsZero())

	_, err = link.ForceRefresh(ctx, "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrNoRefreshToken)
	stored, err := st.Load(ctx, "hydra", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusActive, stored.Status, "Refresh changed nothing")
	assert.Equal(t, conn.Version, stored.Version)
	assert.Zero(t, s.calls.Load(), "no provider call")
}

// A long-lived token the provider's API rejects (401) marks the connection
// reauth_required, and the app gets the typed error.
func TestLongLivedTokenRejected(t *testing.T) {
	clk := newClock()
	s := newScripted(t)
	link, st := scriptedConnector(t, s, clk, &syncBuffer{}, &oauthlink.Connection{AccessToken: "at-forever"})
	resp, err := link.Client("shop-1").Get(s.srv.URL + "/api/me")
	if err == nil {
		resp.Body.Close()
	}
	require.True(t, errors.Is(err, oauthlink.ErrReauthRequired), "got %v", err)
	assert.Zero(t, s.calls.Load(), "no refresh attempted without a refresh token")
	assert.Equal(t, int64(1), s.apiCalls.Load(), "no retry without a new token")
	stored, err := st.Load(context.Background(), "hydra", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusReauthRequired, stored.Status)
}
