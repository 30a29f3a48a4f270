package oauthlinktest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const adyenVerifier = "adyen-verifier-0123456789abcdefghijklmnopqrstuvwxyz"

func newTestAdyen(t *testing.T, opts AdyenOptions) *Adyen {
	t.Helper()
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{appCallback}
	}
	a := NewAdyen(opts)
	t.Cleanup(a.Close)
	return a
}

// adyenAuthParams is a valid authorization request: with S256 PKCE.
func adyenAuthParams(a *Adyen) url.Values {
	p := authParams(a.server, "psp.onlinepayment:write psp.webhook:write")
	p.Set("code_challenge", s256(adyenVerifier))
	p.Set("code_challenge_method", "S256")
	return p
}

func adyenExchange(code string) url.Values {
	f := exchangeForm(code, appCallback)
	f.Set("code_verifier", adyenVerifier)
	return f
}

func adyenToken(t *testing.T, a *Adyen, form url.Values) reply {
	t.Helper()
	return send(t, a.server, request{method: http.MethodPost, url: a.TokenURL(), form: form, basic: a.basic()})
}

func TestAdyenAuthorizeRequiresPKCEAndRedirect(t *testing.T) {
	a := newTestAdyen(t, AdyenOptions{})
	noPKCE := adyenAuthParams(a)
	noPKCE.Del("code_challenge")
	noPKCE.Del("code_challenge_method")
	q := authorize(t, a.server, noPKCE)
	assert.Equal(t, "invalid_request", q.Get("error"))
	assert.Contains(t, q.Get("error_description"), "PKCE is required")

	plain := adyenAuthParams(a)
	plain.Set("code_challenge_method", "plain")
	assert.Equal(t, "invalid_request", authorize(t, a.server, plain).Get("error"))

	unknown := adyenAuthParams(a)
	unknown.Set("scope", "psp.everything:write")
	assert.Equal(t, "invalid_scope", authorize(t, a.server, unknown).Get("error"))

	noRedirect := adyenAuthParams(a)
	noRedirect.Del("redirect_uri")
	_, err := a.Authorize(t.Context(), a.AuthURL()+"?"+noRedirect.Encode())
	assert.ErrorContains(t, err, "answered 400")
}

func TestAdyenTokenClientAuth(t *testing.T) {
	a := newTestAdyen(t, AdyenOptions{})
	tests := []struct {
		name       string
		rq         func(code string) request
		wantStatus int
		wantError  string
	}{
		{"basic", func(c string) request { return request{form: adyenExchange(c), basic: a.basic()} }, 200, ""},
		{"body is refused", func(c string) request { return request{form: a.withCreds(adyenExchange(c))} }, 401, "invalid_client"},
		{"basic and body is refused", func(c string) request { return request{form: a.withCreds(adyenExchange(c)), basic: a.basic()} }, 401, "invalid_client"},
		{"wrong secret", func(c string) request { return request{form: adyenExchange(c), basic: []string{a.ClientID(), "wrong"}} }, 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rq := tc.rq(code(t, a.server, adyenAuthParams(a)))
			rq.method, rq.url = http.MethodPost, a.TokenURL()
			r := send(t, a.server, rq)
			assert.Equal(t, tc.wantStatus, r.status, string(r.raw))
			assert.Equal(t, tc.wantError, r.Error)
		})
	}
}

func TestAdyenExchange(t *testing.T) {
	clk := newClock()
	a := newTestAdyen(t, AdyenOptions{Now: clk.Now})
	c := code(t, a.server, adyenAuthParams(a))

	wrong := adyenExchange(c)
	wrong.Set("code_verifier", strings.Repeat("z", 50))
	assert.Equal(t, "invalid_grant", adyenToken(t, a, wrong).Error, "the verifier must match")

	missing := adyenExchange(c)
	missing.Del("code_verifier")
	assert.Equal(t, "invalid_grant", adyenToken(t, a, missing).Error)

	r := adyenToken(t, a, adyenExchange(c))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var all map[string]any
	require.NoError(t, json.Unmarshal(r.raw, &all))
	assert.Equal(t, int64(3600), r.ExpiresIn)
	assert.NotEmpty(t, r.RefreshToken)
	assert.Equal(t, []any{a.LastAuthorize().AccountID}, all["accounts"])
	assert.Equal(t, "psp.onlinepayment:write psp.webhook:write", r.Scope)

	again := adyenToken(t, a, adyenExchange(c))
	assert.Equal(t, "invalid_grant", again.Error, "codes are single use")
	assert.False(t, a.AccessTokenValid(r.AccessToken), "a replayed code revokes what it produced")

	late := code(t, a.server, adyenAuthParams(a))
	clk.Advance(10 * time.Minute)
	assert.Equal(t, "invalid_grant", adyenToken(t, a, adyenExchange(late)).Error, "codes live 10 minutes")

	clk.Advance(time.Hour)
	fresh := adyenToken(t, a, adyenExchange(code(t, a.server, adyenAuthParams(a))))
	require.Equal(t, http.StatusOK, fresh.status)
	clk.Advance(time.Hour)
	assert.False(t, a.AccessTokenValid(fresh.AccessToken), "access tokens expire after expires_in")
}

func TestAdyenRefreshRotates(t *testing.T) {
	a := newTestAdyen(t, AdyenOptions{})
	first := adyenToken(t, a, adyenExchange(code(t, a.server, adyenAuthParams(a))))
	require.Equal(t, http.StatusOK, first.status)

	second := adyenToken(t, a, refreshForm(first.RefreshToken))
	require.Equal(t, http.StatusOK, second.status, string(second.raw))
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)
	assert.False(t, a.RefreshTokenValid(first.RefreshToken))

	again := adyenToken(t, a, refreshForm(first.RefreshToken))
	assert.Equal(t, "invalid_grant", again.Error)
	assert.Equal(t, 1, a.ReuseDetections())

	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"grant_type": {"refresh_token"}}, "invalid_request"},
		{url.Values{"grant_type": {"password"}}, "unsupported_grant_type"},
		{url.Values{"grant_type": {"authorization_code"}}, "invalid_request"},
	} {
		r := adyenToken(t, a, tc.form)
		assert.Equal(t, tc.want, r.Error)
		assert.Equal(t, "application/json; charset=utf-8", r.contentType)
	}
}

// The customer uninstalling the app ends the access and refresh tokens at
// once: the API answers 401 and the refresh token is refused.
func TestAdyenRevokeAccess(t *testing.T) {
	a := newTestAdyen(t, AdyenOptions{})
	r := adyenToken(t, a, adyenExchange(code(t, a.server, adyenAuthParams(a))))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	acct := a.LastAuthorize().AccountID
	other := adyenToken(t, a, adyenExchange(code(t, a.server, adyenAuthParams(a))))
	require.Equal(t, http.StatusOK, other.status)
	require.NotEqual(t, acct, a.LastAuthorize().AccountID)

	me := func(tok string) int {
		return send(t, a.server, request{method: http.MethodGet, url: a.APIURL() + "/v3/me", header: http.Header{"Authorization": {"Bearer " + tok}}}).status
	}
	require.Equal(t, http.StatusOK, me(r.AccessToken))

	a.RevokeAccess(acct)
	assert.False(t, a.AccessTokenValid(r.AccessToken))
	assert.False(t, a.RefreshTokenValid(r.RefreshToken))
	assert.Equal(t, http.StatusUnauthorized, me(r.AccessToken))
	assert.Equal(t, "invalid_grant", adyenToken(t, a, refreshForm(r.RefreshToken)).Error)
	assert.True(t, a.AccessTokenValid(other.AccessToken), "other merchant accounts keep their grant")
	assert.Equal(t, 0, a.Revocations(), "no revocation endpoint was called")
}
