package oauthlinktest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// qontoGrant authorizes scopes and exchanges the code.
func qontoGrant(t *testing.T, q *Qonto, scopes string) reply {
	t.Helper()
	r := qontoToken(t, q, exchangeForm(code(t, q.server, authParams(q.server, scopes)), appCallback))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	return r
}

func TestQontoTokenClientAuth(t *testing.T) {
	q := newTestQonto(t, QontoOptions{})
	tests := []struct {
		name       string
		rq         func(code string) request
		wantStatus int
		wantError  string
	}{
		{"body credentials", func(c string) request {
			return request{form: q.withCreds(exchangeForm(c, appCallback))}
		}, 200, ""},
		{"basic is refused", func(c string) request {
			return request{form: exchangeForm(c, appCallback), basic: q.basic()}
		}, 401, "invalid_client"},
		{"basic and body is refused", func(c string) request {
			return request{form: q.withCreds(exchangeForm(c, appCallback)), basic: q.basic()}
		}, 401, "invalid_client"},
		{"wrong secret", func(c string) request {
			f := q.withCreds(exchangeForm(c, appCallback))
			f.Set("client_secret", "wrong")
			return request{form: f}
		}, 401, "invalid_client"},
		{"JSON body", func(c string) request {
			return request{json: map[string]string{"grant_type": "authorization_code", "code": c, "redirect_uri": appCallback,
				"client_id": q.ClientID(), "client_secret": q.ClientSecret()}}
		}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rq := tc.rq(code(t, q.server, authParams(q.server, "offline_access")))
			rq.method, rq.url = http.MethodPost, q.TokenURL()
			r := send(t, q.server, rq)
			assert.Equal(t, tc.wantStatus, r.status, string(r.raw))
			assert.Equal(t, tc.wantError, r.Error)
		})
	}
	assert.Equal(t, []ClientAuth{ClientAuthBody, ClientAuthBasic, ClientAuthBoth, ClientAuthBody}, q.ClientAuths(EndpointToken))
}

func TestQontoTokenResponse(t *testing.T) {
	tests := []struct {
		scopes      string
		wantRefresh bool
		wantIDToken bool
	}{
		{"organization.read", false, false},
		{"offline_access organization.read", true, false},
		{"openid offline_access", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.scopes, func(t *testing.T) {
			q := newTestQonto(t, QontoOptions{})
			r := qontoGrant(t, q, tc.scopes)
			assert.Equal(t, "application/json;charset=UTF-8", r.contentType)
			assert.True(t, strings.HasPrefix(r.AccessToken, "ory_at_"))
			assert.Equal(t, int64(3600), r.ExpiresIn)
			assert.Equal(t, "bearer", r.TokenType)
			assert.Equal(t, tc.scopes, r.Scope)
			assert.Equal(t, tc.wantRefresh, strings.HasPrefix(r.RefreshToken, "ory_rt_"), "refresh token only with offline_access")
			assert.Equal(t, tc.wantRefresh, r.RefreshToken != "")
			if !tc.wantIDToken {
				assert.Empty(t, r.IDToken)
				return
			}
			parts := strings.Split(r.IDToken, ".")
			require.Len(t, parts, 3)
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err)
			var claims map[string]any
			require.NoError(t, json.Unmarshal(payload, &claims))
			assert.Equal(t, q.URL(), claims["iss"])
			assert.Equal(t, q.LastAuthorize().AccountID, claims["sub"])
		})
	}
}

func TestQontoRotation(t *testing.T) {
	tests := []struct {
		name       string
		grace      time.Duration
		reuseAfter time.Duration // when the old refresh token is presented again
		wantReuse  bool
	}{
		{"inside default grace", 0, 59 * time.Second, false},
		{"at default grace end", 0, 60 * time.Second, true},
		{"long after", 0, time.Hour, true},
		{"no grace, at once", NoGrace, 0, true},
		{"custom grace inside", 5 * time.Minute, 4 * time.Minute, false},
		{"custom grace outside", 5 * time.Minute, 5 * time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			q := newTestQonto(t, QontoOptions{Now: clk.Now, Grace: tc.grace})
			other := qontoGrant(t, q, "offline_access")
			first := qontoGrant(t, q, "offline_access organization.read")

			second := qontoToken(t, q, refreshForm(first.RefreshToken))
			require.Equal(t, http.StatusOK, second.status, string(second.raw))
			assert.NotEqual(t, first.RefreshToken, second.RefreshToken, "every refresh rotates")
			assert.True(t, strings.HasPrefix(second.RefreshToken, "ory_rt_"))
			assert.NotEqual(t, first.AccessToken, second.AccessToken)
			assert.False(t, q.AccessTokenValid(first.AccessToken), "the used refresh token's access token is revoked")
			assert.True(t, q.AccessTokenValid(second.AccessToken))

			clk.Advance(tc.reuseAfter)
			third := qontoToken(t, q, refreshForm(first.RefreshToken))
			assert.Equal(t, 2, q.Presented(first.RefreshToken))
			assert.Equal(t, 2, q.Refreshes())
			assert.Equal(t, map[string]int{first.RefreshToken: 2}, q.PresentedRefreshTokens(), "codes are not refresh tokens")
			if !tc.wantReuse {
				require.Equal(t, http.StatusOK, third.status)
				assert.NotEqual(t, second.RefreshToken, third.RefreshToken)
				assert.True(t, q.RefreshTokenValid(second.RefreshToken), "a grace reuse leaves the other new pair alive")
				assert.True(t, q.RefreshTokenValid(third.RefreshToken))
				assert.Zero(t, q.ReuseDetections())
				return
			}
			assert.Equal(t, http.StatusBadRequest, third.status)
			assert.Equal(t, "invalid_grant", third.Error)
			assert.Equal(t, "The refresh token was already used.", third.ErrorDescription)
			assert.Equal(t, 1, q.ReuseDetections())
			for _, tok := range []string{first.RefreshToken, second.RefreshToken} {
				assert.False(t, q.RefreshTokenValid(tok), "the whole grant is revoked")
			}
			assert.False(t, q.AccessTokenValid(second.AccessToken), "the whole grant is revoked")
			assert.True(t, q.RefreshTokenValid(other.RefreshToken), "other grants are untouched")

			after := qontoToken(t, q, refreshForm(second.RefreshToken))
			assert.Equal(t, "invalid_grant", after.Error, "the newest token of a revoked grant is refused too")
			assert.Equal(t, 2, q.ReuseDetections())
		})
	}
}

func TestQontoRefreshTokenRevokedOrExpired(t *testing.T) {
	t.Run("revoked by revocation", func(t *testing.T) {
		q := newTestQonto(t, QontoOptions{})
		g := qontoGrant(t, q, "offline_access")
		require.Equal(t, http.StatusOK, send(t, q.server, request{method: http.MethodPost, url: q.RevokeURL(),
			form: q.withCreds(url.Values{"token": {g.AccessToken}})}).status)
		r := qontoToken(t, q, refreshForm(g.RefreshToken))
		assert.Equal(t, "The refresh token was already used.", r.ErrorDescription)
		assert.Equal(t, 1, q.ReuseDetections())
	})
	t.Run("expired after 90 days", func(t *testing.T) {
		clk := newClock()
		q := newTestQonto(t, QontoOptions{Now: clk.Now})
		g := qontoGrant(t, q, "offline_access")
		clk.Advance(90*24*time.Hour - time.Second)
		assert.True(t, q.RefreshTokenValid(g.RefreshToken))
		clk.Advance(time.Second)
		assert.False(t, q.RefreshTokenValid(g.RefreshToken))
		r := qontoToken(t, q, refreshForm(g.RefreshToken))
		assert.Equal(t, "invalid_grant", r.Error)
		assert.Zero(t, q.ReuseDetections(), "expiry is not reuse")
	})
}

func TestQontoConcurrentRefresh(t *testing.T) {
	const n = 10
	tests := []struct {
		name        string
		grace       time.Duration
		wantOK      int
		wantReuses  int
		wantSurvive bool
	}{
		{"inside grace every refresh succeeds", 0, n, 0, true},
		{"without grace one wins and the grant dies", NoGrace, 1, n - 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQonto(t, QontoOptions{Now: newClock().Now, Grace: tc.grace})
			g := qontoGrant(t, q, "offline_access")
			replies := make([]reply, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { replies[i] = qontoToken(t, q, refreshForm(g.RefreshToken)) })
			}
			wg.Wait()
			ok := 0
			var winner string
			for _, r := range replies {
				if r.status == http.StatusOK {
					ok++
					winner = r.RefreshToken
				}
			}
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.wantReuses, q.ReuseDetections())
			assert.Equal(t, n, q.Refreshes())
			assert.Equal(t, n, q.Presented(g.RefreshToken))
			assert.Equal(t, tc.wantSurvive, q.RefreshTokenValid(winner))
		})
	}
}

func TestQontoStagingToken(t *testing.T) {
	const staging = "staging-secret"
	q := newTestQonto(t, QontoOptions{StagingToken: staging})
	c := code(t, q.server, authParams(q.server, "offline_access organization.read")) // the browser needs no header
	tests := []struct {
		name     string
		endpoint Endpoint
		rq       request
	}{
		{"token", EndpointToken, request{method: http.MethodPost, url: q.TokenURL(), form: q.withCreds(exchangeForm(c, appCallback))}},
		{"revoke", EndpointRevoke, request{method: http.MethodPost, url: q.RevokeURL(), form: q.withCreds(url.Values{"token": {"x"}})}},
		{"api", EndpointAPI, request{method: http.MethodGet, url: q.APIURL() + "/v2/organization", header: http.Header{"Authorization": {"Bearer x"}}}},
	}
	for _, tc := range tests {
		for _, header := range []string{"", "wrong"} {
			t.Run(tc.name+" header="+header, func(t *testing.T) {
				rq := tc.rq
				rq.header = rq.header.Clone()
				if header != "" {
					if rq.header == nil {
						rq.header = http.Header{}
					}
					rq.header.Set(StagingHeader, header)
				}
				calls := q.Calls(tc.endpoint)
				r := send(t, q.server, rq)
				assert.Equal(t, http.StatusOK, r.status, "the sandbox answers 200")
				assert.Equal(t, "text/html; charset=utf-8", r.contentType)
				assert.Contains(t, string(r.raw), "Sign in")
				assert.Equal(t, calls+1, q.Calls(tc.endpoint))
			})
		}
	}
	assert.Zero(t, q.Exchanges())
	assert.Zero(t, q.Presented(c), "a request stopped at the login page never reached the token endpoint")
	assert.Zero(t, q.Revocations())

	r := qontoToken(t, q, exchangeForm(c, appCallback)) // with the header
	require.Equal(t, http.StatusOK, r.status)
	assert.NotEmpty(t, r.AccessToken)
	api := send(t, q.server, request{method: http.MethodGet, url: q.APIURL() + "/v2/organization",
		header: http.Header{"Authorization": {"Bearer " + r.AccessToken}, StagingHeader: {staging}}})
	assert.Equal(t, http.StatusOK, api.status)
}

func TestQontoRevoke(t *testing.T) {
	tests := []struct {
		name       string
		token      func(g reply) string
		basic      bool
		json       bool
		wantStatus int
		wantDead   bool
	}{
		{"refresh token", func(g reply) string { return g.RefreshToken }, false, false, 200, true},
		{"access token kills the grant", func(g reply) string { return g.AccessToken }, false, false, 200, true},
		{"unknown token", func(reply) string { return "ory_rt_unknown" }, false, false, 200, false},
		{"missing token", func(reply) string { return "" }, false, false, 400, false},
		{"basic credentials", func(g reply) string { return g.RefreshToken }, true, false, 401, false},
		{"JSON body", func(g reply) string { return g.RefreshToken }, false, true, 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQonto(t, QontoOptions{})
			g := qontoGrant(t, q, "offline_access organization.read")
			rq := request{method: http.MethodPost, url: q.RevokeURL()}
			form := url.Values{"token_type_hint": {"refresh_token"}}
			if tok := tc.token(g); tok != "" {
				form.Set("token", tok)
			}
			switch {
			case tc.basic:
				rq.form, rq.basic = form, q.basic()
			case tc.json:
				rq.json = map[string]string{"token": form.Get("token"), "client_id": q.ClientID(), "client_secret": q.ClientSecret()}
			default:
				rq.form = q.withCreds(form)
			}
			r := send(t, q.server, rq)
			require.Equal(t, tc.wantStatus, r.status, string(r.raw))
			if r.status == http.StatusOK {
				assert.Empty(t, r.raw)
				assert.Equal(t, 1, q.Revocations())
			} else {
				assert.Zero(t, q.Revocations())
			}
			assert.Equal(t, !tc.wantDead, q.AccessTokenValid(g.AccessToken))
			assert.Equal(t, !tc.wantDead, q.RefreshTokenValid(g.RefreshToken))
		})
	}
}

func TestQontoAPI(t *testing.T) {
	clk := newClock()
	q := newTestQonto(t, QontoOptions{Now: clk.Now})
	g := qontoGrant(t, q, "offline_access organization.read")
	org := q.LastAuthorize().AccountID
	narrow := qontoGrant(t, q, "offline_access")
	rotated := qontoGrant(t, q, "offline_access organization.read")
	require.Equal(t, http.StatusOK, qontoToken(t, q, refreshForm(rotated.RefreshToken)).status)

	get := func(token string) (reply, map[string]any) {
		rq := request{method: http.MethodGet, url: q.APIURL() + "/v2/organization"}
		if token != "" {
			rq.header = http.Header{"Authorization": {"Bearer " + token}}
		}
		r := send(t, q.server, rq)
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.raw, &body))
		return r, body
	}
	r, body := get(g.AccessToken)
	require.Equal(t, http.StatusOK, r.status)
	o := body["organization"].(map[string]any)
	assert.Equal(t, org, o["id"])
	assert.NotEmpty(t, o["slug"])
	assert.NotEmpty(t, o["legal_name"])

	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "ory_at_unknown", http.StatusUnauthorized},
		{"access token of a used refresh token", rotated.AccessToken, http.StatusUnauthorized},
		{"missing organization.read", narrow.AccessToken, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := get(tc.token)
			assert.Equal(t, tc.wantStatus, r.status)
			if tc.wantStatus == http.StatusUnauthorized {
				assert.Contains(t, r.header.Get("WWW-Authenticate"), "invalid_token")
			}
		})
	}
	t.Run("expired token", func(t *testing.T) {
		clk.Advance(time.Hour)
		r, _ := get(g.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, r.status)
	})
}
