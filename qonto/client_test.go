package qonto_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// connected returns a Connector on the fake with owner u1 connected.
func connected(t *testing.T, fake *oauthlinktest.Qonto) (*oauthlink.Connector, store.TokenStore) {
	t.Helper()
	ms := memstore.New()
	tok := grant(t, fake)
	require.NoError(t, ms.Save(context.Background(), &oauthlink.Connection{
		Provider: "qonto", Owner: "u1", AccessToken: tok.access, RefreshToken: tok.refresh, TokenType: "bearer",
		Expiry: tok.expiry(), Scopes: []string{"organization.read", "offline_access"}, Status: store.StatusActive,
	}))
	conn, err := oauthlink.New(oauthlink.Config{
		Provider: fake.Provider(), ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: "https://app.example/cb", Store: ms, AllowInsecureHTTP: true, HTTPClient: fake.Client(),
		Owner:         func(*http.Request) (string, error) { return "u1", nil },
		CookieSecrets: [][]byte{make([]byte, 32)}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return conn, ms
}

// TestClientWithConnector: a Client on the Connector's client reads the
// organization with the owner's token and the staging header, and when
// Qonto answers 401 the connector refreshes once and retries.
func TestClientWithConnector(t *testing.T) {
	fake := newFake(t)
	conn, ms := connected(t, fake)
	api := &qonto.Client{HTTPClient: conn.Client("u1"), BaseURL: fake.APIURL(), AllowInsecureHTTP: true}
	org, err := api.Organization(context.Background())
	require.NoError(t, err)
	assert.Equal(t, fake.LastAuthorize().AccountID, org.ID)
	assert.NotEmpty(t, org.Slug)

	fake.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{Status: http.StatusUnauthorized, ContentType: "application/json",
		Body: `{"errors":[{"code":"unauthorized","detail":"The access token is invalid, expired or revoked."}]}`})
	var raw json.RawMessage
	require.NoError(t, api.Get(context.Background(), "/v2/organization", &raw))
	assert.Contains(t, string(raw), `"`+org.ID+`"`)
	assert.Equal(t, 1, fake.Refreshes(), "one refresh after the 401")
	stored, err := ms.Load(context.Background(), "qonto", "u1")
	require.NoError(t, err)
	assert.True(t, fake.RefreshTokenValid(stored.RefreshToken.Reveal()), "the rotated refresh token was saved")

	_, err = (&qonto.Client{HTTPClient: conn.Client("nobody"), BaseURL: fake.APIURL(), AllowInsecureHTTP: true}).Organization(context.Background())
	require.ErrorIs(t, err, qonto.ErrRequest)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		body   string
		check  func(t *testing.T, err error)
	}{
		{"403 names the error", 403, "", `{"errors":[{"code":"forbidden","detail":"The access token is missing the scope organization.read."}]}`,
			func(t *testing.T, err error) {
				var ae *qonto.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, qonto.APIError{StatusCode: 403, Code: "forbidden", Detail: "The access token is missing the scope organization.read."}, *ae)
			}},
		{"429 with Retry-After", 429, "7", `{"errors":[]}`, func(t *testing.T, err error) {
			var ae *qonto.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 7*time.Second, ae.RetryAfter)
			assert.Equal(t, "qonto: API answered 429", ae.Error())
		}},
		{"500 page", 500, "", "<html>oops</html>", func(t *testing.T, err error) {
			var ae *qonto.APIError
			require.ErrorAs(t, err, &ae)
			assert.NotContains(t, err.Error(), "oops")
		}},
		{"login page with 200", 200, "", "<html>login</html>", func(t *testing.T, err error) { assert.ErrorIs(t, err, qonto.ErrResponse) }},
		{"no id", 200, "", `{"organization":{"slug":"x"}}`, func(t *testing.T, err error) { assert.ErrorIs(t, err, qonto.ErrResponse) }},
		{"id with markup", 200, "", `{"organization":{"id":"a\"><b>"}}`, func(t *testing.T, err error) { assert.ErrorIs(t, err, qonto.ErrResponse) }},
		{"redirect", 302, "", "", func(t *testing.T, err error) { assert.ErrorIs(t, err, qonto.ErrResponse) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "/login")
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			_, err := (&qonto.Client{HTTPClient: srv.Client(), BaseURL: srv.URL, AllowInsecureHTTP: true}).Organization(context.Background())
			require.Error(t, err)
			tt.check(t, err)
		})
	}
}

func TestClientConfig(t *testing.T) {
	for name, c := range map[string]*qonto.Client{
		"no HTTPClient":     {BaseURL: "https://thirdparty.qonto.com"},
		"plain http":        {BaseURL: "http://127.0.0.1:1", HTTPClient: http.DefaultClient},
		"plain http remote": {BaseURL: "http://thirdparty.qonto.com", AllowInsecureHTTP: true, HTTPClient: http.DefaultClient},
	} {
		_, err := c.Organization(context.Background())
		assert.ErrorIs(t, err, qonto.ErrClientConfig, name)
	}
	c := &qonto.Client{HTTPClient: http.DefaultClient}
	for _, bad := range []string{"organization", "/v1/organization", "/v2/x?y=1", "/v2/../oauth2/token", "/v2/%2e%2e/x"} {
		assert.ErrorIs(t, c.Get(context.Background(), bad, nil), qonto.ErrClientConfig, bad)
	}
}
