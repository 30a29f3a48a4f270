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

// stripeGrant authorizes read_write and exchanges the code with the
// secret key as client_secret.
func stripeGrant(t *testing.T, st *Stripe) (reply, map[string]any) {
	t.Helper()
	r := send(t, st.server, request{method: http.MethodPost, url: st.TokenURL(),
		form: st.withCreds(exchangeForm(code(t, st.server, authParams(st.server, "read_write")), appCallback))})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var all map[string]any
	require.NoError(t, json.Unmarshal(r.raw, &all))
	return r, all
}

func TestStripeTokenClientAuth(t *testing.T) {
	st := newTestStripe(t, StripeOptions{})
	key := st.ClientSecret()
	tests := []struct {
		name       string
		rq         func(code string) request
		wantStatus int
		wantError  string
	}{
		{"secret key as client_secret", func(c string) request {
			return request{form: st.withCreds(exchangeForm(c, appCallback))}
		}, 200, ""},
		{"secret key as client_secret without client_id", func(c string) request {
			f := exchangeForm(c, appCallback)
			f.Set("client_secret", key)
			return request{form: f}
		}, 200, ""},
		{"secret key as Basic user name", func(c string) request {
			return request{form: exchangeForm(c, appCallback), basic: []string{key, ""}}
		}, 200, ""},
		{"client_id:secret as Basic is refused", func(c string) request {
			return request{form: exchangeForm(c, appCallback), basic: st.basic()}
		}, 401, "invalid_client"},
		{"both places is refused", func(c string) request {
			return request{form: st.withCreds(exchangeForm(c, appCallback)), basic: []string{key, ""}}
		}, 400, "invalid_request"},
		{"wrong key", func(c string) request {
			f := st.withCreds(exchangeForm(c, appCallback))
			f.Set("client_secret", "sk_test_wrong")
			return request{form: f}
		}, 401, "invalid_client"},
		{"another platform's client_id", func(c string) request {
			f := st.withCreds(exchangeForm(c, appCallback))
			f.Set("client_id", "ca_other")
			return request{form: f}
		}, 401, "invalid_client"},
		{"no credentials", func(c string) request {
			return request{form: exchangeForm(c, appCallback)}
		}, 401, "invalid_client"},
		{"JSON body", func(c string) request {
			return request{json: map[string]string{"grant_type": "authorization_code", "code": c, "client_secret": key}}
		}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rq := tc.rq(code(t, st.server, authParams(st.server, "read_write")))
			rq.method, rq.url = http.MethodPost, st.TokenURL()
			r := send(t, st.server, rq)
			assert.Equal(t, tc.wantStatus, r.status, string(r.raw))
			assert.Equal(t, tc.wantError, r.Error)
		})
	}
}

func TestStripeTokenResponse(t *testing.T) {
	clk := newClock()
	st := newTestStripe(t, StripeOptions{Now: clk.Now})
	r, all := stripeGrant(t, st)
	assert.Equal(t, "application/json", r.contentType)
	assert.True(t, strings.HasPrefix(r.AccessToken, "sk_test_"))
	assert.True(t, strings.HasPrefix(r.RefreshToken, "rt_"))
	assert.Equal(t, "bearer", r.TokenType)
	assert.Equal(t, "read_write", r.Scope)
	assert.NotContains(t, all, "expires_in", "Stripe states no lifetime")
	assert.Equal(t, false, all["livemode"])
	assert.Equal(t, st.LastAuthorize().AccountID, all["stripe_user_id"])
	assert.True(t, strings.HasPrefix(st.LastAuthorize().AccountID, "acct_"))
	assert.True(t, strings.HasPrefix(all["stripe_publishable_key"].(string), "pk_test_"))

	clk.Advance(3 * 365 * 24 * time.Hour)
	assert.True(t, st.AccessTokenValid(r.AccessToken), "access tokens do not expire")
}

func TestStripeRefreshRotates(t *testing.T) {
	st := newTestStripe(t, StripeOptions{})
	first, _ := stripeGrant(t, st)
	refresh := func(form url.Values) reply {
		return send(t, st.server, request{method: http.MethodPost, url: st.TokenURL(), form: st.withCreds(form)})
	}
	second := refresh(refreshForm(first.RefreshToken))
	require.Equal(t, http.StatusOK, second.status, string(second.raw))
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)
	assert.NotEqual(t, first.AccessToken, second.AccessToken)
	assert.False(t, st.RefreshTokenValid(first.RefreshToken), "a used refresh token is spent")
	assert.True(t, st.AccessTokenValid(first.AccessToken), "the old access token keeps working")

	again := refresh(refreshForm(first.RefreshToken))
	assert.Equal(t, http.StatusBadRequest, again.status)
	assert.Equal(t, "invalid_grant", again.Error)
	assert.Equal(t, 1, st.ReuseDetections())
	assert.True(t, st.RefreshTokenValid(second.RefreshToken), "replaying the spent token revokes nothing else")

	narrower := refreshForm(second.RefreshToken)
	narrower.Set("scope", "read_only")
	third := refresh(narrower)
	require.Equal(t, http.StatusOK, third.status, string(third.raw))
	assert.Equal(t, "read_only", third.Scope)

	wider := refreshForm(third.RefreshToken)
	wider.Set("scope", "write_everything")
	assert.Equal(t, "invalid_scope", refresh(wider).Error)
}

func TestStripeDeauthorize(t *testing.T) {
	st := newTestStripe(t, StripeOptions{})
	a, aFields := stripeGrant(t, st)
	b, _ := stripeGrant(t, st)
	acct := aFields["stripe_user_id"].(string)
	deauth := func(form url.Values, basic []string, header http.Header) reply {
		return send(t, st.server, request{method: http.MethodPost, url: st.RevokeURL(), form: form, basic: basic, header: header})
	}
	form := url.Values{"client_id": {st.ClientID()}, "stripe_user_id": {acct}}
	key := st.ClientSecret()

	tests := []struct {
		name       string
		form       url.Values
		basic      []string
		header     http.Header
		wantStatus int
		wantError  string
	}{
		{"no key", form, nil, nil, 401, "invalid_client"},
		{"key only as client_secret", url.Values{"client_id": {st.ClientID()}, "stripe_user_id": {acct}, "client_secret": {key}}, nil, nil, 401, "invalid_client"},
		{"client_id:secret as Basic", form, st.basic(), nil, 401, "invalid_client"},
		{"another platform", url.Values{"client_id": {"ca_other"}, "stripe_user_id": {acct}}, []string{key, ""}, nil, 401, "invalid_client"},
		{"no account", url.Values{"client_id": {st.ClientID()}}, []string{key, ""}, nil, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := deauth(tc.form, tc.basic, tc.header)
			assert.Equal(t, tc.wantStatus, r.status, string(r.raw))
			assert.Equal(t, tc.wantError, r.Error)
		})
	}
	assert.Zero(t, st.Revocations(), "refused requests deauthorize nothing")
	assert.True(t, st.AccessTokenValid(a.AccessToken))

	ok := deauth(form, []string{key, ""}, nil)
	require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
	assert.JSONEq(t, `{"stripe_user_id":"`+acct+`"}`, string(ok.raw))
	assert.False(t, st.AccessTokenValid(a.AccessToken), "every token of the account ends")
	assert.False(t, st.RefreshTokenValid(a.RefreshToken))
	assert.True(t, st.Deauthorized(acct))
	assert.True(t, st.AccessTokenValid(b.AccessToken), "other accounts are untouched")

	gone := deauth(form, nil, http.Header{"Authorization": {"Bearer " + key}})
	assert.Equal(t, http.StatusUnauthorized, gone.status)
	assert.Equal(t, "invalid_client", gone.Error)
	assert.Contains(t, gone.ErrorDescription, "not connected")
	assert.Equal(t, []ClientAuth{ClientAuthNone, ClientAuthNone, ClientAuthBasic, ClientAuthBasic, ClientAuthBasic, ClientAuthBasic, ClientAuthBasic},
		st.ClientAuths(EndpointRevoke))
}

func TestStripeAuthorizeParams(t *testing.T) {
	st := newTestStripe(t, StripeOptions{})
	tests := []struct {
		name      string
		extra     url.Values
		wantError string
	}{
		{"login landing", url.Values{"stripe_landing": {"login"}}, ""},
		{"register landing and prompt", url.Values{"stripe_landing": {"register"}, "always_prompt": {"true"}}, ""},
		{"prefill", url.Values{"stripe_user[email]": {"a@example.test"}, "stripe_user[country]": {"NL"}}, ""},
		{"japanese prefill", url.Values{"stripe_user[country]": {"JP"}, "stripe_user[first_name_kana]": {"タロウ"},
			"stripe_user[block_kanji]": {"1丁目"}, "stripe_user[gender]": {"male"}}, ""},
		// Express only: a Standard flow that sends them breaks the reference.
		{"suggested capabilities", url.Values{"suggested_capabilities[]": {"card_payments", "transfers"}}, "invalid_request"},
		{"one suggested capability", url.Values{"suggested_capabilities[]": {"card_payments"}}, "invalid_request"},
		{"unknown landing", url.Values{"stripe_landing": {"signup"}}, "invalid_request"},
		{"unknown prefill field", url.Values{"stripe_user[password]": {"x"}}, "invalid_request"},
		{"unknown parameter", url.Values{"approval_prompt": {"force"}}, "invalid_request"},
		{"unknown scope", url.Values{"scope": {"read_write payments"}}, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := authParams(st.server, "read_write")
			for k, v := range tc.extra {
				params[k] = v
			}
			q := authorize(t, st.server, params)
			assert.Equal(t, tc.wantError, q.Get("error"), q.Get("error_description"))
			assert.Equal(t, tc.wantError == "", q.Get("code") != "")
		})
	}
}
