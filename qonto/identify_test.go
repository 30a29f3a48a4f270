package qonto_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
)

// newFake starts a sandbox-like fake Qonto that wants the staging header.
func newFake(t *testing.T) *oauthlinktest.Qonto {
	t.Helper()
	fake := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{StagingToken: "staging-1", RedirectURIs: []string{"https://app.example/cb"}})
	t.Cleanup(fake.Close)
	return fake
}

// fakeAPI is how Identify and Client reach the fake: plain http on
// loopback, with the fake's transport.
func fakeAPI(fake *oauthlinktest.Qonto) qonto.Client {
	return qonto.Client{BaseURL: fake.APIURL(), AllowInsecureHTTP: true, HTTPClient: fake.Client()}
}

func TestIdentify(t *testing.T) {
	fake := newFake(t)
	p := fake.Provider()
	tok := grant(t, fake)
	conn := &oauthlink.Connection{AccessToken: tok.access, Scopes: []string{"organization.read", "offline_access"}}
	require.NoError(t, qonto.Identify(fakeAPI(fake), p.Header)(context.Background(), conn))
	assert.Equal(t, fake.LastAuthorize().AccountID, conn.AccountID)

	err := qonto.Identify(fakeAPI(fake), nil)(context.Background(), &oauthlink.Connection{AccessToken: tok.access, Scopes: []string{"organization.read"}})
	assert.ErrorIs(t, err, qonto.ErrIdentify, "without the staging header the sandbox answers a login page")
	assert.ErrorIs(t, err, qonto.ErrResponse)

	none := &oauthlink.Connection{AccessToken: "x", Scopes: []string{"offline_access"}}
	require.NoError(t, qonto.Identify(fakeAPI(fake), p.Header)(context.Background(), none))
	assert.Empty(t, none.AccountID, "not asked without organization.read")
}

// TestIdentifyRefusesCleartext: the new token goes over plain http only to
// a loopback host, and only with AllowInsecureHTTP; a refusal sends nothing.
func TestIdentifyRefusesCleartext(t *testing.T) {
	fake := newFake(t)
	before := fake.Calls(oauthlinktest.EndpointAPI)
	for _, api := range []qonto.Client{
		{BaseURL: fake.APIURL(), HTTPClient: fake.Client()},
		{BaseURL: "http://thirdparty.qonto.com", AllowInsecureHTTP: true},
		{BaseURL: "ftp://thirdparty.qonto.com"},
	} {
		conn := &oauthlink.Connection{AccessToken: "ory_at_CANARY", Scopes: []string{qonto.ScopeOrganizationRead}}
		err := qonto.Identify(api, fake.Provider().Header)(context.Background(), conn)
		require.ErrorIs(t, err, qonto.ErrIdentify, api.BaseURL)
		assert.ErrorIs(t, err, qonto.ErrClientConfig)
		assert.NotContains(t, err.Error(), "CANARY")
		assert.Empty(t, conn.AccountID)
	}
	assert.Equal(t, before, fake.Calls(oauthlinktest.EndpointAPI), "nothing sent")
}

// tokens are a grant's tokens from the fake.
type tokens struct {
	access, refresh store.Secret
	expiresIn       int
}

// grant authorizes at the fake and spends the code at its token endpoint
// (form body, body credentials, the staging header).
func grant(t *testing.T, fake *oauthlinktest.Qonto) tokens {
	t.Helper()
	p := fake.Provider()
	cb, err := fake.Authorize(context.Background(), p.AuthURL+"?client_id="+fake.ClientID()+
		"&response_type=code&state=state-12345678&scope=organization.read%20offline_access&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")
	require.NoError(t, err)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {"https://app.example/cb"},
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
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return tokens{store.Secret(body.AccessToken), store.Secret(body.RefreshToken), body.ExpiresIn}
}

func (tok tokens) expiry() time.Time {
	return time.Now().Add(time.Duration(tok.expiresIn) * time.Second)
}
