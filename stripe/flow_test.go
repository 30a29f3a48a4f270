package stripe_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/stripe"
)

// app is a platform with the Stripe preset against the fake, as a
// developer would test it.
type app struct {
	fake  *oauthlinktest.Stripe
	conn  *oauthlink.Connector
	store store.TokenStore
	srv   *httptest.Server
}

func newApp(t *testing.T) *app { return newAppWith(t, nil, nil) }

// newAppWith is newApp with the fake's options (the redirect URI is set)
// and a clock the fake and the connector share (nil: time.Now), serving
// the app's routes on mux (nil: a new one).
func newAppWith(t *testing.T, mux *http.ServeMux, opts func(srvURL string, o *oauthlinktest.StripeOptions)) *app {
	t.Helper()
	a := &app{store: memstore.New()}
	if mux == nil {
		mux = http.NewServeMux()
	}
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	o := oauthlinktest.StripeOptions{RedirectURIs: []string{a.srv.URL + "/connect/stripe/callback"}}
	if opts != nil {
		opts(a.srv.URL, &o)
	}
	a.fake = oauthlinktest.NewStripe(o)
	t.Cleanup(a.fake.Close)
	var err error
	a.conn, err = oauthlink.New(oauthlink.Config{
		Now:      o.Now,
		Provider: a.fake.Provider(), ClientID: a.fake.ClientID(), ClientSecret: a.fake.ClientSecret(),
		RedirectURL: a.srv.URL + "/connect/stripe/callback", Store: a.store,
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		HTTPClient:    a.fake.Client(), AllowInsecureHTTP: true, Logger: slog.New(slog.DiscardHandler),
		// The app passes Stripe's parameters from its start request; the
		// connector refuses any the preset does not allow.
		Flow: oauthlink.FlowOptions{AuthParams: func(r *http.Request) (url.Values, error) { return r.URL.Query(), nil }},
	})
	require.NoError(t, err)
	mux.Handle("/connect/stripe", a.conn.StartHandler())
	mux.Handle("/connect/stripe/callback", a.conn.CallbackHandler())
	return a
}

// connect runs the browser's part: start, Stripe's page, callback.
func (a *app) connect(t *testing.T, query string) *http.Response {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start, err := browser.Get(a.srv.URL + "/connect/stripe" + query)
	require.NoError(t, err)
	start.Body.Close()
	require.Equal(t, http.StatusSeeOther, start.StatusCode)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cb, err := a.fake.Authorize(ctx, start.Header.Get("Location"))
	require.NoError(t, err)
	resp, err := browser.Get(cb.String())
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestConnectAndDisconnect(t *testing.T) {
	a := newApp(t)
	resp := a.connect(t, "?stripe_landing=login&stripe_user%5Bemail%5D=owner%40example.test")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	ar := a.fake.LastAuthorize()
	assert.Equal(t, []string{stripe.ScopeReadWrite}, ar.Scopes)
	assert.Equal(t, "login", ar.Extra.Get("stripe_landing"))
	assert.Equal(t, "owner@example.test", ar.Extra.Get("stripe_user[email]"))
	assert.Empty(t, ar.CodeChallenge, "Stripe documents no PKCE")

	conn, err := a.store.Load(context.Background(), "stripe", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, ar.AccountID, conn.AccountID, "stripe_user_id, without an API call")
	assert.True(t, conn.Expiry.IsZero())
	assert.Contains(t, conn.Extra.Reveal(), "stripe_publishable_key")

	// The platform calls Stripe with the connected account's token.
	api, err := a.conn.Client("shop-1").Get(a.fake.APIURL() + "/v1/account")
	require.NoError(t, err)
	io.Copy(io.Discard, api.Body)
	api.Body.Close()
	assert.Equal(t, http.StatusOK, api.StatusCode)

	require.NoError(t, a.conn.Disconnect(context.Background(), "shop-1"))
	assert.True(t, a.fake.Deauthorized(conn.AccountID))
	assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBody}, a.fake.ClientAuths(oauthlinktest.EndpointToken))
	assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBasic}, a.fake.ClientAuths(oauthlinktest.EndpointRevoke))
}

func TestRefreshAfterRejectedToken(t *testing.T) {
	a := newApp(t)
	require.Equal(t, http.StatusSeeOther, a.connect(t, "").StatusCode)
	before, err := a.store.Load(context.Background(), "stripe", "shop-1")
	require.NoError(t, err)

	// Stripe access tokens carry no expiry: the refresh token is spent only
	// when asked (or after a 401), and it rotates.
	after, err := a.conn.ForceRefresh(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.NotEqual(t, before.RefreshToken, after.RefreshToken)
	assert.False(t, a.fake.RefreshTokenValid(before.RefreshToken.Reveal()))
	assert.True(t, after.Expiry.IsZero())
	assert.Equal(t, before.AccountID, after.AccountID)
	assert.Equal(t, 1, a.fake.Refreshes())
	assert.Zero(t, a.fake.ReuseDetections(), "the spent refresh token is never replayed")
}

func TestPresetRefusesUndocumentedParams(t *testing.T) {
	a := newApp(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(a.srv.URL + "/connect/stripe?approval_prompt=force")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Zero(t, a.fake.Calls(oauthlinktest.EndpointAuthorize))
}
