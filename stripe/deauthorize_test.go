package stripe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/stripe"
)

const canaryKey = "sk_test_CANARYplatformKeyXYZ"

// seen is what the scripted deauthorize endpoint received.
type seen struct {
	method, auth, contentType string
	form                      url.Values
}

// scripted answers every request with status, header and body, and
// records it.
func scripted(t *testing.T, status int, header map[string]string, body string) (*httptest.Server, *seen) {
	t.Helper()
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s.method, s.auth, s.contentType = r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		s.form, _ = url.ParseQuery(string(raw))
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &s
}

func revocation(u string) oauthlink.Revocation {
	return oauthlink.Revocation{Token: "rt_CANARYrefreshXYZ", Kind: "refresh_token", AccountID: "acct_1Abc",
		URL: u, ClientID: "ca_platform", ClientSecret: canaryKey}
}

func TestDeauthorizeRequest(t *testing.T) {
	srv, s := scripted(t, http.StatusOK, map[string]string{"Content-Type": "application/json"}, `{"stripe_user_id":"acct_1Abc"}`)
	require.NoError(t, stripe.Deauthorize(context.Background(), revocation(srv.URL+"/oauth/deauthorize")))
	assert.Equal(t, http.MethodPost, s.method)
	assert.Equal(t, "application/x-www-form-urlencoded", s.contentType)
	assert.Equal(t, url.Values{"client_id": {"ca_platform"}, "stripe_user_id": {"acct_1Abc"}}, s.form,
		"the token itself is not sent: Stripe deauthorizes the account")
	user, pass, ok := (&http.Request{Header: http.Header{"Authorization": {s.auth}}}).BasicAuth()
	require.True(t, ok)
	assert.Equal(t, canaryKey, user, "the secret key is the Basic user name")
	assert.Empty(t, pass)
}

func TestDeauthorizeAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantNil   bool
		wantCode  string
		temporary bool
		retry     time.Duration
	}{
		{"200", 200, nil, `{"stripe_user_id":"acct_1Abc"}`, true, "", false, 0},
		{"already disconnected", 401, nil, `{"error":"invalid_client","error_description":"This application is not connected to stripe account acct_1Abc, or that account does not exist."}`, true, "", false, 0},
		{"wrong key", 401, nil, `{"error":"invalid_client","error_description":"Invalid API Key provided: sk_test_****XYZ"}`, false, "invalid_client", false, 0},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, `{"error":"rate_limit"}`, false, "rate_limit", true, 7 * time.Second},
		{"html outage page", 503, map[string]string{"Content-Type": "text/html"}, `<html>down ` + canaryKey + `</html>`, false, "", true, 0},
		{"markup in the description", 400, nil, `{"error":"invalid_request","error_description":"<script>\"x\"</script>"}`, false, "invalid_request", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := scripted(t, tc.status, tc.header, tc.body)
			err := stripe.Deauthorize(context.Background(), revocation(srv.URL))
			if tc.wantNil {
				require.NoError(t, err)
				return
			}
			var pe *oauthlink.ProviderError
			require.True(t, errors.As(err, &pe), "%v", err)
			assert.Equal(t, tc.status, pe.StatusCode)
			assert.Equal(t, tc.wantCode, pe.Code)
			assert.Equal(t, tc.temporary, pe.Temporary())
			assert.Equal(t, tc.retry, pe.RetryAfter)
			assert.NotContains(t, err.Error(), canaryKey)
			assert.NotContains(t, pe.Description, `"`, "sanitised to RFC 6749 Appendix A")
		})
	}
}

func TestDeauthorizeRefusals(t *testing.T) {
	t.Run("no account", func(t *testing.T) {
		srv, s := scripted(t, 200, nil, `{}`)
		r := revocation(srv.URL)
		r.AccountID = ""
		assert.ErrorIs(t, stripe.Deauthorize(context.Background(), r), stripe.ErrNoAccount)
		assert.Empty(t, s.method, "nothing was sent")
	})
	t.Run("redirect not followed", func(t *testing.T) {
		var hit bool
		elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
		t.Cleanup(elsewhere.Close)
		srv, _ := scripted(t, http.StatusTemporaryRedirect, map[string]string{"Location": elsewhere.URL}, "")
		err := stripe.Deauthorize(context.Background(), revocation(srv.URL))
		var pe *oauthlink.ProviderError
		require.True(t, errors.As(err, &pe), "%v", err)
		assert.Equal(t, http.StatusTemporaryRedirect, pe.StatusCode)
		assert.False(t, hit, "the secret key never follows a redirect")
	})
	t.Run("no answer", func(t *testing.T) {
		srv, _ := scripted(t, 200, nil, "")
		srv.Close()
		err := stripe.Deauthorize(context.Background(), revocation(srv.URL))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), canaryKey)
		assert.NotContains(t, fmt.Sprint(revocation(srv.URL)), canaryKey, "a Revocation prints redacted")
	})
}
