package gocardless_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/gocardless"
	"github.com/oauthlink/oauthlink/store/memstore"
)

func newConnector(t *testing.T, p oauthlink.Provider) *oauthlink.Connector {
	t.Helper()
	c, err := oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: "gc-app", ClientSecret: "gc-secret",
		RedirectURL: "https://platform.example/connect/gocardless/callback", Store: memstore.New(),
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Logger:        slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return c
}

func TestProviderEnvironments(t *testing.T) {
	tests := []struct {
		opts             gocardless.Options
		auth, token, api string
	}{
		{gocardless.Options{}, "https://connect.gocardless.com/oauth/authorize", "https://connect.gocardless.com/oauth/access_token", "https://api.gocardless.com"},
		{gocardless.Options{Sandbox: true}, "https://connect-sandbox.gocardless.com/oauth/authorize",
			"https://connect-sandbox.gocardless.com/oauth/access_token", "https://api-sandbox.gocardless.com"},
	}
	for _, tc := range tests {
		p := gocardless.Provider(tc.opts)
		assert.Equal(t, tc.auth, p.AuthURL)
		assert.Equal(t, tc.token, p.TokenURL)
		assert.Equal(t, tc.api, p.APIURL)
		assert.Empty(t, p.RevokeURL, "no documented revocation endpoint")
		assert.Equal(t, "organisation_id", p.AccountIDField)
		assert.True(t, p.AccessTokensDoNotExpire)
		assert.False(t, p.RequireRefreshToken, "GoCardless issues none")
		assert.False(t, p.PKCE)
		newConnector(t, p) // valid
	}
}

func TestBeginWithPrefill(t *testing.T) {
	c := newConnector(t, gocardless.Provider(gocardless.Options{Sandbox: true}))
	params := url.Values{gocardless.ParamInitialView: {"signup"}, "prefill[email]": {"owner@example.test"},
		"prefill[organisation_name]": {"Acme Ltd"}, gocardless.ParamLanguage: {"en"}}
	flow, err := c.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/connect/gocardless", nil),
		oauthlink.BeginOptions{Params: params})
	require.NoError(t, err)
	u, err := url.Parse(flow.AuthURL.Reveal())
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, "connect-sandbox.gocardless.com", u.Host)
	assert.Equal(t, "read_write", q.Get("scope"))
	assert.Equal(t, "signup", q.Get("initial_view"))
	assert.Equal(t, "owner@example.test", q.Get("prefill[email]"))
	assert.Empty(t, q.Get("code_challenge"))

	_, err = c.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/connect/gocardless", nil),
		oauthlink.BeginOptions{Params: url.Values{"prefill[iban]": {"x"}}})
	assert.ErrorIs(t, err, oauthlink.ErrBadRequest, "a parameter the preset does not allow is refused")
}
