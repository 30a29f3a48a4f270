package oauthlinktest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMollieTokenClientAuthAndEncoding(t *testing.T) {
	m := newTestMollie(t, MollieOptions{})
	tests := []struct {
		name        string
		basic       []string
		bodyCreds   []string // {client_id, client_secret} in the body
		json        bool
		contentType string
		wantStatus  int
		wantError   string
		wantAuth    ClientAuth
	}{
		{name: "basic and form", basic: m.basic(), wantStatus: 200, wantAuth: ClientAuthBasic},
		{name: "body and form", bodyCreds: m.basic(), wantStatus: 200, wantAuth: ClientAuthBody},
		{name: "basic and JSON", basic: m.basic(), json: true, wantStatus: 200, wantAuth: ClientAuthBasic},
		{name: "body and JSON", bodyCreds: m.basic(), json: true, wantStatus: 200, wantAuth: ClientAuthBody},
		{name: "both, consistent", basic: m.basic(), bodyCreds: m.basic(), wantStatus: 200, wantAuth: ClientAuthBoth},
		{name: "both, body secret wrong", basic: m.basic(), bodyCreds: []string{m.ClientID(), "wrong"}, wantStatus: 401, wantError: "invalid_client", wantAuth: ClientAuthBoth},
		{name: "wrong basic secret", basic: []string{m.ClientID(), "wrong"}, wantStatus: 401, wantError: "invalid_client", wantAuth: ClientAuthBasic},
		{name: "wrong body client", bodyCreds: []string{"app_other", m.ClientSecret()}, wantStatus: 401, wantError: "invalid_client", wantAuth: ClientAuthBody},
		{name: "no credentials", wantStatus: 401, wantError: "invalid_client", wantAuth: ClientAuthNone},
		{name: "JSON body sent as form", basic: m.basic(), json: true, contentType: "application/x-www-form-urlencoded", wantStatus: 400, wantError: "invalid_request", wantAuth: ClientAuthBasic},
		{name: "form body sent as JSON", basic: m.basic(), contentType: "application/json", wantStatus: 400, wantError: "invalid_request"},
		{name: "text/plain", basic: m.basic(), contentType: "text/plain", wantStatus: 400, wantError: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(m.ClientAuths(EndpointToken))
			c := code(t, m.server, authParams(m.server, "organizations.read"))
			rq := request{method: http.MethodPost, url: m.TokenURL(), basic: tc.basic, contentType: tc.contentType}
			fields := map[string]string{"grant_type": "authorization_code", "code": c, "redirect_uri": appCallback}
			if tc.bodyCreds != nil {
				fields["client_id"], fields["client_secret"] = tc.bodyCreds[0], tc.bodyCreds[1]
			}
			if tc.json {
				rq.json = fields
			} else {
				rq.form = url.Values{}
				for k, v := range fields {
					rq.form.Set(k, v)
				}
			}
			r := send(t, m.server, rq)
			require.Equal(t, tc.wantStatus, r.status, string(r.raw))
			assert.Equal(t, tc.wantError, r.Error)
			auths := m.ClientAuths(EndpointToken)
			if tc.wantAuth == "" {
				assert.Len(t, auths, before, "a malformed body stops before authentication")
				return
			}
			require.Len(t, auths, before+1)
			assert.Equal(t, tc.wantAuth, auths[before])
			if tc.wantStatus == http.StatusUnauthorized && tc.basic != nil {
				assert.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
			}
		})
	}
}

func TestMollieTokenResponse(t *testing.T) {
	tests := []struct {
		name   string
		opts   MollieOptions
		wantCT string
	}{
		{"default text/html", MollieOptions{}, "text/html"},
		{"configured", MollieOptions{TokenContentType: "application/json; charset=utf-8"}, "application/json; charset=utf-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMollie(t, tc.opts)
			r := mollieToken(t, m, exchangeForm(code(t, m.server, authParams(m.server, "organizations.read onboarding.read")), appCallback))
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, tc.wantCT, r.contentType)
			var body map[string]any
			require.NoError(t, json.Unmarshal(r.raw, &body), "the body is JSON whatever the header says")
			assert.Regexp(t, regexp.MustCompile(`^access_\w+$`), r.AccessToken)
			assert.Regexp(t, regexp.MustCompile(`^refresh_\w+$`), r.RefreshToken)
			assert.Equal(t, int64(3600), r.ExpiresIn)
			assert.Equal(t, "bearer", r.TokenType)
			assert.Equal(t, "organizations.read onboarding.read", r.Scope)
			assert.NotContains(t, body, "organization_id", "Mollie's token answer carries no account id")
		})
	}
}

func TestMollieRefresh(t *testing.T) {
	tests := []struct {
		name            string
		exchangeSends   bool
		refreshRedirect string // "" sends none
		wantError       string
	}{
		{"redirect resent", true, appCallback, ""},
		{"redirect missing after exchange sent one", true, "", "invalid_request"},
		{"redirect different", true, appCallback + "/x", "invalid_grant"},
		{"exchange without redirect, refresh without", false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			m := newTestMollie(t, MollieOptions{Now: clk.Now})
			params := authParams(m.server, "organizations.read")
			exchangeRedirect := appCallback
			if !tc.exchangeSends {
				params.Del("redirect_uri")
				exchangeRedirect = ""
			}
			first := mollieToken(t, m, exchangeForm(code(t, m.server, params), exchangeRedirect))
			require.Equal(t, http.StatusOK, first.status)

			clk.Advance(400 * 24 * time.Hour)
			form := refreshForm(first.RefreshToken)
			if tc.refreshRedirect != "" {
				form.Set("redirect_uri", tc.refreshRedirect)
			}
			r := mollieToken(t, m, form)
			assert.Equal(t, tc.wantError, r.Error, r.ErrorDescription)
			assert.Equal(t, 1, m.Refreshes())
			if tc.wantError != "" {
				return
			}
			assert.Equal(t, first.RefreshToken, r.RefreshToken, "Mollie does not rotate refresh tokens")
			assert.NotEqual(t, first.AccessToken, r.AccessToken)
			assert.True(t, m.AccessTokenValid(r.AccessToken))
			assert.True(t, m.RefreshTokenValid(first.RefreshToken), "refresh tokens do not expire")
			assert.Equal(t, "text/html", r.contentType)
		})
	}
}

func TestMollieRevoke(t *testing.T) {
	tests := []struct {
		name          string
		revokeRefresh bool
		json          bool
		bodyCreds     bool
	}{
		{"refresh token, form", true, false, false},
		{"refresh token, JSON", true, true, false},
		{"access token, form", false, false, false},
		{"refresh token, body credentials", true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMollie(t, MollieOptions{})
			first := mollieToken(t, m, exchangeForm(code(t, m.server, authParams(m.server, "organizations.read")), appCallback))
			second := mollieToken(t, m, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "redirect_uri": {appCallback}})
			require.Equal(t, http.StatusOK, second.status)

			fields := map[string]string{"token": first.AccessToken, "token_type_hint": "access_token"}
			if tc.revokeRefresh {
				fields = map[string]string{"token": first.RefreshToken, "token_type_hint": "refresh_token"}
			}
			rq := request{method: http.MethodDelete, url: m.RevokeURL(), basic: m.basic()}
			if tc.bodyCreds {
				rq.basic = nil
				fields["client_id"], fields["client_secret"] = m.ClientID(), m.ClientSecret()
			}
			if tc.json {
				rq.json = fields
			} else {
				rq.form = url.Values{}
				for k, v := range fields {
					rq.form.Set(k, v)
				}
			}
			r := send(t, m.server, rq)
			require.Equal(t, http.StatusNoContent, r.status, string(r.raw))
			assert.Empty(t, r.raw)
			assert.Equal(t, 1, m.Revocations())
			assert.False(t, m.AccessTokenValid(first.AccessToken))
			assert.Equal(t, !tc.revokeRefresh, m.AccessTokenValid(second.AccessToken),
				"revoking the refresh token kills every access token of the authorization")
			assert.Equal(t, !tc.revokeRefresh, m.RefreshTokenValid(first.RefreshToken))
		})
	}

	t.Run("errors", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		r := send(t, m.server, request{method: http.MethodDelete, url: m.RevokeURL(), form: url.Values{"token": {"x"}}})
		assert.Equal(t, http.StatusUnauthorized, r.status)
		r = send(t, m.server, request{method: http.MethodDelete, url: m.RevokeURL(), basic: m.basic(), form: url.Values{}})
		assert.Equal(t, http.StatusBadRequest, r.status)
		r = send(t, m.server, request{method: http.MethodDelete, url: m.RevokeURL(), basic: m.basic(), form: url.Values{"token": {"access_unknown"}}})
		assert.Equal(t, http.StatusNoContent, r.status)
		assert.Equal(t, 1, m.Revocations())
		assert.Equal(t, []ClientAuth{ClientAuthNone, ClientAuthBasic, ClientAuthBasic}, m.ClientAuths(EndpointRevoke))
	})
}

func TestMollieAPI(t *testing.T) {
	clk := newClock()
	m := newTestMollie(t, MollieOptions{Now: clk.Now})
	full := mollieToken(t, m, exchangeForm(code(t, m.server, authParams(m.server, "organizations.read onboarding.read")), appCallback))
	orgID := m.LastAuthorize().AccountID
	narrow := mollieToken(t, m, exchangeForm(code(t, m.server, authParams(m.server, "payments.read")), appCallback))
	revoked := mollieToken(t, m, exchangeForm(code(t, m.server, authParams(m.server, "organizations.read onboarding.read")), appCallback))
	send(t, m.server, request{method: http.MethodDelete, url: m.RevokeURL(), basic: m.basic(), form: url.Values{"token": {revoked.RefreshToken}}})
	m.SetOnboarding(orgID, Onboarding{Status: OnboardingNeedsData, CanReceivePayments: true})

	get := func(t *testing.T, path, token string) (reply, map[string]any) {
		t.Helper()
		rq := request{method: http.MethodGet, url: m.APIURL() + path}
		if token != "" {
			rq.header = http.Header{"Authorization": {"Bearer " + token}}
		}
		r := send(t, m.server, rq)
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.raw, &body))
		assert.Equal(t, "application/hal+json", r.contentType)
		return r, body
	}

	t.Run("organization", func(t *testing.T) {
		r, body := get(t, "/v2/organizations/me", full.AccessToken)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, orgID, body["id"])
		assert.Regexp(t, `^org_\d+$`, body["id"])
		assert.NotEmpty(t, body["name"])
		assert.NotEmpty(t, body["email"])
		assert.Equal(t, "en_US", body["locale"])
		links := body["_links"].(map[string]any)
		assert.Equal(t, m.URL()+"/dashboard/"+orgID, links["dashboard"].(map[string]any)["href"])
	})
	t.Run("onboarding", func(t *testing.T) {
		r, body := get(t, "/v2/onboarding/me", full.AccessToken)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "needs-data", body["status"])
		assert.Equal(t, true, body["canReceivePayments"])
		assert.Equal(t, false, body["canReceiveSettlements"])
		assert.Contains(t, body["_links"], "dashboard")
	})

	errs := []struct {
		name       string
		path       string
		token      string
		wantStatus int
	}{
		{"no token", "/v2/organizations/me", "", http.StatusUnauthorized},
		{"unknown token", "/v2/organizations/me", "access_unknown", http.StatusUnauthorized},
		{"refresh token as bearer", "/v2/organizations/me", full.RefreshToken, http.StatusUnauthorized},
		{"revoked token", "/v2/organizations/me", revoked.AccessToken, http.StatusUnauthorized},
		{"missing organizations.read", "/v2/organizations/me", narrow.AccessToken, http.StatusForbidden},
		{"missing onboarding.read", "/v2/onboarding/me", narrow.AccessToken, http.StatusForbidden},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			r, body := get(t, tc.path, tc.token)
			assert.Equal(t, tc.wantStatus, r.status)
			assert.EqualValues(t, tc.wantStatus, body["status"])
			assert.NotEmpty(t, body["title"])
			assert.NotEmpty(t, body["detail"])
			assert.Contains(t, body["_links"], "documentation")
		})
	}

	t.Run("expired token", func(t *testing.T) {
		clk.Advance(time.Hour - time.Second)
		r, _ := get(t, "/v2/organizations/me", full.AccessToken)
		assert.Equal(t, http.StatusOK, r.status)
		clk.Advance(time.Second)
		r, _ = get(t, "/v2/organizations/me", full.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.False(t, m.AccessTokenValid(full.AccessToken))
	})
}
