package oauthlinktest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawAuthorize sends an authorization request without following the
// redirect.
func rawAuthorize(t *testing.T, s *server, method string, params url.Values) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, s.AuthURL(), strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequestWithContext(ctx, method, s.AuthURL()+"?"+params.Encode(), nil)
	}
	require.NoError(t, err)
	client := *s.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestAuthorize(t *testing.T) {
	challenge := s256(strings.Repeat("v", 43))
	tests := []struct {
		name       string
		qonto      bool
		opts       QontoOptions
		edit       func(url.Values)
		wantStatus int    // 302 or 400
		wantError  string // error redirected with
		wantPrefix string // code prefix on success
		wantState  bool
	}{
		{name: "mollie valid", edit: func(url.Values) {}, wantStatus: 302, wantPrefix: "auth_", wantState: true},
		{name: "mollie without redirect_uri uses the registered one", edit: func(v url.Values) { v.Del("redirect_uri") }, wantStatus: 302, wantPrefix: "auth_", wantState: true},
		{name: "mollie short state is fine", edit: func(v url.Values) { v.Set("state", "abc") }, wantStatus: 302, wantPrefix: "auth_", wantState: true},
		{name: "mollie S256 challenge", edit: func(v url.Values) { v.Set("code_challenge", challenge); v.Set("code_challenge_method", "S256") }, wantStatus: 302, wantPrefix: "auth_", wantState: true},
		{name: "unknown client", edit: func(v url.Values) { v.Set("client_id", "app_other") }, wantStatus: 400},
		{name: "missing client", edit: func(v url.Values) { v.Del("client_id") }, wantStatus: 400},
		{name: "repeated client", edit: func(v url.Values) { v.Add("client_id", v.Get("client_id")) }, wantStatus: 400},
		{name: "unregistered redirect", edit: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, wantStatus: 400},
		{name: "relative redirect", edit: func(v url.Values) { v.Set("redirect_uri", "/connect/callback") }, wantStatus: 400},
		{name: "response_type token", edit: func(v url.Values) { v.Set("response_type", "token") }, wantStatus: 302, wantError: "unsupported_response_type", wantState: true},
		{name: "missing state", edit: func(v url.Values) { v.Del("state") }, wantStatus: 302, wantError: "invalid_request"},
		{name: "repeated state", edit: func(v url.Values) { v.Add("state", "other-state-value") }, wantStatus: 302, wantError: "invalid_request", wantState: true},
		{name: "missing scope", edit: func(v url.Values) { v.Del("scope") }, wantStatus: 302, wantError: "invalid_request", wantState: true},
		{name: "misspelt scope", edit: func(v url.Values) { v.Set("scope", "onbording.write") }, wantStatus: 302, wantError: "invalid_scope", wantState: true},
		{name: "organization-token-only scope", edit: func(v url.Values) { v.Set("scope", "clients.write") }, wantStatus: 302, wantError: "invalid_scope", wantState: true},
		{name: "plain PKCE", edit: func(v url.Values) { v.Set("code_challenge", challenge); v.Set("code_challenge_method", "plain") }, wantStatus: 302, wantError: "invalid_request", wantState: true},
		{name: "PKCE method missing means plain", edit: func(v url.Values) { v.Set("code_challenge", challenge) }, wantStatus: 302, wantError: "invalid_request", wantState: true},
		{name: "malformed challenge", edit: func(v url.Values) { v.Set("code_challenge", "short"); v.Set("code_challenge_method", "S256") }, wantStatus: 302, wantError: "invalid_request", wantState: true},

		{name: "qonto valid", qonto: true, edit: func(url.Values) {}, wantStatus: 302, wantPrefix: "ory_ac_", wantState: true},
		{name: "qonto requires redirect_uri", qonto: true, edit: func(v url.Values) { v.Del("redirect_uri") }, wantStatus: 400},
		{name: "qonto unregistered redirect", qonto: true, edit: func(v url.Values) { v.Set("redirect_uri", appCallback+"/x") }, wantStatus: 400},
		{name: "qonto state shorter than 8", qonto: true, edit: func(v url.Values) { v.Set("state", "1234567") }, wantStatus: 302, wantError: "invalid_state", wantState: true},
		{name: "qonto state of 8", qonto: true, edit: func(v url.Values) { v.Set("state", "12345678") }, wantStatus: 302, wantPrefix: "ory_ac_", wantState: true},
		{name: "qonto unknown scope", qonto: true, edit: func(v url.Values) { v.Set("scope", "client_invoice.read") }, wantStatus: 302, wantError: "invalid_scope", wantState: true},
		{name: "qonto RequirePKCE without challenge", qonto: true, opts: QontoOptions{RequirePKCE: true}, edit: func(url.Values) {}, wantStatus: 302, wantError: "invalid_request", wantState: true},
		{name: "qonto RequirePKCE with challenge", qonto: true, opts: QontoOptions{RequirePKCE: true}, edit: func(v url.Values) { v.Set("code_challenge", challenge); v.Set("code_challenge_method", "S256") }, wantStatus: 302, wantPrefix: "ory_ac_", wantState: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s *server
			scopes := "organizations.read onboarding.read"
			if tc.qonto {
				s, scopes = newTestQonto(t, tc.opts).server, "offline_access organization.read"
			} else {
				s = newTestMollie(t, MollieOptions{}).server
			}
			params := authParams(s, scopes)
			tc.edit(params)
			resp, body := rawAuthorize(t, s, http.MethodGet, params)
			require.Equal(t, tc.wantStatus, resp.StatusCode, body)
			if tc.wantStatus == http.StatusBadRequest {
				assert.Empty(t, resp.Header.Get("Location"), "never redirect to an unverified URI")
				assert.Contains(t, body, "Sandbox")
				assert.Equal(t, "", s.LastAuthorize().ClientID, "a 400 page is not a decision")
				return
			}
			loc, err := resp.Location()
			require.NoError(t, err)
			assert.Equal(t, appCallback, loc.Scheme+"://"+loc.Host+loc.Path)
			q := loc.Query()
			assert.Equal(t, tc.wantError, q.Get("error"))
			if tc.wantState {
				assert.Equal(t, params.Get("state"), q.Get("state"))
			} else {
				assert.False(t, q.Has("state"))
			}
			if tc.wantError != "" {
				assert.NotEmpty(t, q.Get("error_description"))
				assert.False(t, q.Has("code"))
				assert.Equal(t, tc.wantError, s.LastAuthorize().Error)
				return
			}
			assert.True(t, strings.HasPrefix(q.Get("code"), tc.wantPrefix), "code prefix")
			assert.NotEmpty(t, s.LastAuthorize().AccountID)
		})
	}
}

func TestAuthorizeAnyAbsoluteRedirectWhenNoneRegistered(t *testing.T) {
	m := newTestMollie(t, MollieOptions{RedirectURIs: []string{}})
	q := newTestQonto(t, QontoOptions{RedirectURIs: []string{}})
	tests := []struct {
		name     string
		s        *server
		redirect string // "" sends none
		want     int
	}{
		{"mollie any absolute URL", m.server, "https://anywhere.example/cb", http.StatusFound},
		{"mollie loopback http", m.server, "http://127.0.0.1:8080/cb", http.StatusFound},
		{"mollie none sent and none registered", m.server, "", http.StatusBadRequest},
		{"mollie fragment", m.server, "https://anywhere.example/cb#frag", http.StatusBadRequest},
		{"mollie userinfo", m.server, "https://user@anywhere.example/cb", http.StatusBadRequest},
		{"mollie custom scheme", m.server, "javascript:alert(1)", http.StatusBadRequest},
		{"qonto any absolute URL", q.server, "https://anywhere.example/cb", http.StatusFound},
		{"qonto relative", q.server, "/cb", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scopes := "organizations.read"
			if tc.s.cfg.name == "qonto" {
				scopes = "organization.read"
			}
			params := authParams(tc.s, scopes)
			params.Del("redirect_uri")
			if tc.redirect != "" {
				params.Set("redirect_uri", tc.redirect)
			}
			resp, _ := rawAuthorize(t, tc.s, http.MethodGet, params)
			require.Equal(t, tc.want, resp.StatusCode)
			if tc.want == http.StatusFound {
				assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), tc.redirect+"?"))
			}
		})
	}
}

func TestAuthorizeKeepsRedirectQuery(t *testing.T) {
	const registered = "https://app.example.test/cb?tenant=7"
	m := newTestMollie(t, MollieOptions{RedirectURIs: []string{registered}})
	params := authParams(m.server, "organizations.read")
	params.Set("redirect_uri", registered)
	q := authorize(t, m.server, params)
	assert.Equal(t, "7", q.Get("tenant"))
	assert.Equal(t, testState, q.Get("state"))
	assert.NotEmpty(t, q.Get("code"))
}

func TestDenyNext(t *testing.T) {
	m := newTestMollie(t, MollieOptions{})
	m.DenyNext("access_denied", "The user cancelled.")
	params := authParams(m.server, "organizations.read")

	q := authorize(t, m.server, params)
	assert.Equal(t, "access_denied", q.Get("error"))
	assert.Equal(t, "The user cancelled.", q.Get("error_description"))
	assert.Equal(t, testState, q.Get("state"))
	assert.False(t, q.Has("code"))
	last := m.LastAuthorize()
	assert.Equal(t, "access_denied", last.Error)
	assert.Empty(t, last.AccountID)

	q = authorize(t, m.server, params)
	assert.Empty(t, q.Get("error"), "the decision is consumed once")
	assert.NotEmpty(t, q.Get("code"))

	all := m.Authorizations()
	require.Len(t, all, 2)
	assert.Equal(t, "access_denied", all[0].Error)
	assert.Equal(t, "org_1", all[1].AccountID)
	assert.Equal(t, all[1], m.LastAuthorize())
}

func TestLastAuthorizeRecordsTheGrant(t *testing.T) {
	challenge := s256(strings.Repeat("k", 50))
	t.Run("mollie", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		params := authParams(m.server, "organizations.read onboarding.read")
		params.Del("redirect_uri")
		params.Set("approval_prompt", "force")
		params.Set("locale", "nl_NL")
		params.Set("code_challenge", challenge)
		params.Set("code_challenge_method", "S256")
		code(t, m.server, params)
		last := m.LastAuthorize()
		assert.Equal(t, AuthorizeRequest{
			ClientID:            m.ClientID(),
			Scopes:              []string{"organizations.read", "onboarding.read"},
			State:               testState,
			CodeChallenge:       challenge,
			CodeChallengeMethod: "S256",
			Extra:               url.Values{"approval_prompt": {"force"}, "locale": {"nl_NL"}},
			AccountID:           "org_1",
		}, last)
		last.Extra.Set("locale", "changed")
		assert.Equal(t, "nl_NL", m.LastAuthorize().Extra.Get("locale"), "LastAuthorize returns a copy")
	})
	t.Run("qonto honours organization_id", func(t *testing.T) {
		q := newTestQonto(t, QontoOptions{})
		const org = "1f0c6a3e-5b7d-4c2a-9e8f-0a1b2c3d4e5f"
		params := authParams(q.server, "offline_access organization.read")
		params.Set("organization_id", org)
		params.Set("registration_id", "a584b060-8c96-488d-8bbb-74f0d3d2803c")
		code(t, q.server, params)
		last := q.LastAuthorize()
		assert.Equal(t, org, last.AccountID)
		assert.Equal(t, appCallback, last.RedirectURI)
		assert.Equal(t, "a584b060-8c96-488d-8bbb-74f0d3d2803c", last.Extra.Get("registration_id"))
	})
	t.Run("qonto generates organization UUIDs", func(t *testing.T) {
		q := newTestQonto(t, QontoOptions{})
		code(t, q.server, authParams(q.server, "organization.read"))
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, q.LastAuthorize().AccountID)
	})
}

func TestMollieAccountsAndApprovalPromptForce(t *testing.T) {
	m := newTestMollie(t, MollieOptions{})
	params := authParams(m.server, "organizations.read")

	first := mollieToken(t, m, exchangeForm(code(t, m.server, params), appCallback))
	require.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, "org_1", m.LastAuthorize().AccountID)
	code(t, m.server, params)
	assert.Equal(t, "org_2", m.LastAuthorize().AccountID, "every approval is a new organization by default")

	m.ApproveNextAs("org_1")
	code(t, m.server, params)
	assert.Equal(t, "org_1", m.LastAuthorize().AccountID)
	assert.True(t, m.AccessTokenValid(first.AccessToken), "approval_prompt=auto keeps earlier authorizations")

	m.ApproveNextAs("org_1")
	params.Set("approval_prompt", "force")
	code(t, m.server, params)
	assert.False(t, m.AccessTokenValid(first.AccessToken), "force revokes the merchant's earlier authorizations")
	assert.False(t, m.RefreshTokenValid(first.RefreshToken))
}

func TestConsentPage(t *testing.T) {
	m := newTestMollie(t, MollieOptions{ConsentPage: true, Scopes: []string{"organizations.read", "<b>bold</b>"}})
	params := authParams(m.server, "organizations.read <b>bold</b>")
	params.Set("state", `"><script>alert(1)</script>`)

	resp, page := rawAuthorize(t, m.server, http.MethodGet, params)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, page, "Sandbox")
	assert.Contains(t, page, m.ClientID())
	assert.Contains(t, page, "organizations.read")
	assert.Contains(t, page, "&lt;b&gt;bold&lt;/b&gt;")
	assert.NotContains(t, page, "<b>bold")
	assert.NotContains(t, page, "<script>")
	assert.Contains(t, page, `value="approve"`)
	assert.Contains(t, page, `value="deny"`)
	assert.Equal(t, "", m.LastAuthorize().ClientID, "showing the page decides nothing")

	tests := []struct {
		decision  string
		wantError string
	}{
		{"approve", ""},
		{"deny", "access_denied"},
		{"", "access_denied"},
	}
	for _, tc := range tests {
		t.Run("decision "+tc.decision, func(t *testing.T) {
			form := cloneValues(params)
			form.Set("decision", tc.decision)
			resp, _ := rawAuthorize(t, m.server, http.MethodPost, form)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := resp.Location()
			require.NoError(t, err)
			assert.Equal(t, tc.wantError, loc.Query().Get("error"))
			assert.Equal(t, params.Get("state"), loc.Query().Get("state"))
			assert.Equal(t, tc.wantError == "", loc.Query().Has("code"))
			assert.NotContains(t, m.LastAuthorize().Extra, "decision")
		})
	}

	t.Run("Authorize clicks approve", func(t *testing.T) {
		q := authorize(t, m.server, params)
		assert.NotEmpty(t, q.Get("code"))
	})
}

func TestAuthorizeHelperRefusesOtherURLs(t *testing.T) {
	m := newTestMollie(t, MollieOptions{})
	other := newTestMollie(t, MollieOptions{})
	for name, u := range map[string]string{
		"other server": other.AuthURL() + "?client_id=x",
		"other path":   m.TokenURL(),
		"not a URL":    "://",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := m.Authorize(context.Background(), u)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "client_id=x", "the query is not echoed")
		})
	}
	t.Run("400 page", func(t *testing.T) {
		params := authParams(m.server, "organizations.read")
		params.Set("client_id", "app_unknown")
		_, err := m.Authorize(context.Background(), m.AuthURL()+"?"+params.Encode())
		require.ErrorContains(t, err, "400")
	})
	assert.Zero(t, other.Calls(EndpointAuthorize))
}
