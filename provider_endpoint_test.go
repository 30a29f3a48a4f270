package oauthlink_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

func TestProviderEndpointMapsTheStyle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style oauthlink.AuthStyle
		want  oauth2.AuthStyle
	}{
		{"basic", oauthlink.AuthStyleBasic, oauth2.AuthStyleInHeader},
		{"body", oauthlink.AuthStyleBody, oauth2.AuthStyleInParams},
		// Never auto-detect: it resends a grant with the other style.
		{"unset", 0, oauth2.AuthStyleInHeader},
		{"unknown", oauthlink.AuthStyle(99), oauth2.AuthStyleInHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := oauthlink.Provider{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token",
				RevokeURL: "https://as.example/revoke", AuthStyle: tc.style}
			assert.Equal(t, oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: tc.want}, p.Endpoint())
		})
	}
}

// An oauth2.Config built on Endpoint authenticates at the fakes' token
// endpoints exactly as the Connector does: Basic at Mollie, body fields at
// Qonto, each in one request.
func TestProviderEndpointExchangesWithThePinnedStyle(t *testing.T) {
	const callback = "https://app.example.test/callback"
	mollie := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{RedirectURIs: []string{callback}})
	t.Cleanup(mollie.Close)
	qonto := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{RedirectURIs: []string{callback}})
	t.Cleanup(qonto.Close)
	for _, tc := range []struct {
		f    fake
		want oauthlinktest.ClientAuth
	}{
		{mollie, oauthlinktest.ClientAuthBasic},
		{qonto, oauthlinktest.ClientAuthBody},
	} {
		p := tc.f.Provider()
		t.Run(p.Name, func(t *testing.T) {
			cfg := oauth2.Config{
				ClientID: tc.f.ClientID(), ClientSecret: tc.f.ClientSecret(), RedirectURL: callback,
				Endpoint: p.Endpoint(), Scopes: append(p.DefaultScopes, p.RequiredScopes...),
			}
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, tc.f.Client())
			back, err := tc.f.(interface {
				Authorize(context.Context, string) (*url.URL, error)
			}).Authorize(ctx, cfg.AuthCodeURL("a-state-of-sixteen-bytes"))
			require.NoError(t, err)
			tok, err := cfg.Exchange(ctx, back.Query().Get("code"))
			require.NoError(t, err)
			assert.True(t, tc.f.AccessTokenValid(tok.AccessToken))
			assert.Equal(t, []oauthlinktest.ClientAuth{tc.want}, tc.f.ClientAuths(oauthlinktest.EndpointToken))
		})
	}
}
