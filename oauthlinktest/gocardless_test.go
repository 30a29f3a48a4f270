package oauthlinktest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGoCardlessTokenClientAuth(t *testing.T) {
	gc := newTestGoCardless(t, GoCardlessOptions{})
	tests := []struct {
		name       string
		rq         func(code string) request
		wantStatus int
		wantError  string
	}{
		{"body credentials", func(c string) request { return request{form: gc.withCreds(exchangeForm(c, appCallback))} }, 200, ""},
		{"basic is refused", func(c string) request { return request{form: exchangeForm(c, appCallback), basic: gc.basic()} }, 401, "invalid_client"},
		{"wrong secret", func(c string) request {
			f := gc.withCreds(exchangeForm(c, appCallback))
			f.Set("client_secret", "wrong")
			return request{form: f}
		}, 401, "invalid_client"},
		{"no redirect_uri", func(c string) request { return request{form: gc.withCreds(exchangeForm(c, ""))} }, 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rq := tc.rq(code(t, gc.server, authParams(gc.server, "read_write")))
			rq.method, rq.url = http.MethodPost, gc.TokenURL()
			r := send(t, gc.server, rq)
			assert.Equal(t, tc.wantStatus, r.status, string(r.raw))
			assert.Equal(t, tc.wantError, r.Error)
		})
	}
	assert.Equal(t, []ClientAuth{ClientAuthBody, ClientAuthBasic, ClientAuthBody, ClientAuthBody}, gc.ClientAuths(EndpointToken))
}

func TestGoCardlessTokenResponse(t *testing.T) {
	for _, scope := range []string{"read_write", "read_only"} {
		t.Run(scope, func(t *testing.T) {
			clk := newClock()
			gc := newTestGoCardless(t, GoCardlessOptions{Now: clk.Now})
			r := send(t, gc.server, request{method: http.MethodPost, url: gc.TokenURL(),
				form: gc.withCreds(exchangeForm(code(t, gc.server, authParams(gc.server, scope)), appCallback))})
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			var all map[string]any
			require.NoError(t, json.Unmarshal(r.raw, &all))
			assert.Equal(t, scope, r.Scope)
			assert.Equal(t, "bearer", r.TokenType)
			assert.Equal(t, gc.LastAuthorize().AccountID, all["organisation_id"])
			assert.Regexp(t, `^OR\d{6}[A-Z0-9]{4}$`, all["organisation_id"])
			assert.NotContains(t, all, "refresh_token")
			assert.NotContains(t, all, "expires_in")

			clk.Advance(5 * 365 * 24 * time.Hour)
			assert.True(t, gc.AccessTokenValid(r.AccessToken), "access tokens do not expire")
			gc.RevokeAccess(gc.LastAuthorize().AccountID)
			assert.False(t, gc.AccessTokenValid(r.AccessToken))
		})
	}
}

func TestGoCardlessAuthorizeParams(t *testing.T) {
	gc := newTestGoCardless(t, GoCardlessOptions{})
	tests := []struct {
		name      string
		extra     url.Values
		wantError string
	}{
		{"signup view with prefill", url.Values{"initial_view": {"signup"}, "prefill[email]": {"a@example.test"},
			"prefill[organisation_name]": {"Acme"}, "language": {"fr"}}, ""},
		{"login view", url.Values{"initial_view": {"login"}}, ""},
		{"unknown view", url.Values{"initial_view": {"register"}}, "invalid_request"},
		{"unknown prefill", url.Values{"prefill[iban]": {"x"}}, "invalid_request"},
		{"bad language", url.Values{"language": {"french"}}, "invalid_request"},
		{"unknown scope", url.Values{"scope": {"full_access"}}, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := authParams(gc.server, "read_write")
			for k, v := range tc.extra {
				params[k] = v
			}
			q := authorize(t, gc.server, params)
			assert.Equal(t, tc.wantError, q.Get("error"), q.Get("error_description"))
		})
	}
	t.Run("redirect_uri required", func(t *testing.T) {
		params := authParams(gc.server, "read_write")
		params.Del("redirect_uri")
		_, err := gc.Authorize(t.Context(), gc.AuthURL()+"?"+params.Encode())
		assert.ErrorContains(t, err, "answered 400")
	})
}
