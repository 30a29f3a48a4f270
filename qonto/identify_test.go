package qonto_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
)

func TestIdentify(t *testing.T) {
	fake := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{StagingToken: "staging-1", RedirectURIs: []string{"https://app.example/cb"}})
	defer fake.Close()
	p := fake.Provider()
	cb, err := fake.Authorize(context.Background(), p.AuthURL+"?client_id="+fake.ClientID()+"&response_type=code&state=state-12345678&scope=organization.read%20offline_access&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")
	require.NoError(t, err)
	tok := exchange(t, fake, p, cb.Query().Get("code"))

	conn := &oauthlink.Connection{AccessToken: store.Secret(tok), Scopes: []string{"organization.read", "offline_access"}}
	require.NoError(t, qonto.Identify(fake.APIURL(), fake.Client(), p.Header)(context.Background(), conn))
	assert.Equal(t, fake.LastAuthorize().AccountID, conn.AccountID)

	err = qonto.Identify(fake.APIURL(), fake.Client(), nil)(context.Background(), &oauthlink.Connection{AccessToken: store.Secret(tok), Scopes: []string{"organization.read"}})
	assert.ErrorIs(t, err, qonto.ErrIdentify, "without the staging header the sandbox answers a login page")

	none := &oauthlink.Connection{AccessToken: "x", Scopes: []string{"offline_access"}}
	require.NoError(t, qonto.Identify(fake.APIURL(), fake.Client(), p.Header)(context.Background(), none))
	assert.Empty(t, none.AccountID, "not asked without organization.read")
}

// exchange spends code at the fake's token endpoint and returns the access
// token (form body, body credentials, the staging header).
func exchange(t *testing.T, fake *oauthlinktest.Qonto, p oauthlink.Provider, code string) string {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"},
		"client_id": {fake.ClientID()}, "client_secret": {fake.ClientSecret()}}
	req, err := http.NewRequest(http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	resp, err := fake.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.AccessToken
}
