package adyen_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/adyen"
	"github.com/oauthlink/oauthlink/store/memstore"
)

func TestProviderEnvironments(t *testing.T) {
	tests := []struct {
		opts             adyen.Options
		auth, token, api string
	}{
		{adyen.Options{}, "https://ca-test.adyen.com/ca/ca/oauth/connect.shtml", "https://oauth-test.adyen.com/v1/token", "https://management-test.adyen.com"},
		{adyen.Options{Live: true}, "https://ca-live.adyen.com/ca/ca/oauth/connect.shtml", "https://oauth-live.adyen.com/v1/token", "https://management-live.adyen.com"},
	}
	for _, tc := range tests {
		p := adyen.Provider(tc.opts)
		assert.Equal(t, tc.auth, p.AuthURL)
		assert.Equal(t, tc.token, p.TokenURL)
		assert.Equal(t, tc.api, p.APIURL)
		assert.Equal(t, oauthlink.AuthStyleBasic, p.AuthStyle)
		assert.True(t, p.PKCE)
		assert.True(t, p.RotatesRefreshTokens)
		assert.Empty(t, p.RevokeURL)

		c, err := oauthlink.New(oauthlink.Config{
			Provider: p, ClientID: "adyen-app", ClientSecret: "adyen-secret",
			RedirectURL: "https://platform.example/connect/adyen/callback", Store: memstore.New(),
			Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
			CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
			Logger:        slog.New(slog.DiscardHandler),
			Scopes:        []string{adyen.ScopeOnlinePayment, adyen.ScopeWebhook},
		})
		require.NoError(t, err)
		flow, err := c.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/connect/adyen", nil), oauthlink.BeginOptions{})
		require.NoError(t, err)
		u, err := url.Parse(flow.AuthURL.Reveal())
		require.NoError(t, err)
		q := u.Query()
		assert.Equal(t, "S256", q.Get("code_challenge_method"))
		assert.Len(t, q.Get("code_challenge"), 43)
		assert.Equal(t, "psp.onlinepayment:write psp.webhook:write", q.Get("scope"))
	}
}
